"""Remote objects' versions from their store's metadata: the ETag, size and last-modified.

An S3 bucket is listed with ListObjectsV2 (one signed request per 1,000 objects, no content
read); an HTTP URL is asked with HEAD. An object's version is its ETag and size when the store
reports an ETag (``e:<etag>:<size>``), else its size and last-modified (``r:<size>:<time>``),
so nothing is downloaded to learn whether it changed.

Last-modified is left out when there is an ETag, on purpose: S3 gives a single-part object the
MD5 of its bytes as ETag, so re-delivering the same bytes (a new last-modified) is no change and
plans nothing. A store whose ETag is not derived from the bytes (an HTTP server's
``mtime-size``, an S3 multipart upload's ``md5-of-parts-N``) reports a re-delivery of the same
bytes as a new ETag, and duck rebuilds those partitions: it trusts the store rather than
downloading every object to hash it.

`listing` returns None where duck cannot ask the store itself (no or unsupported secret, other
schemes); the caller then lists through DuckDB, which reports size and last-modified only.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import hmac
import os
from datetime import datetime, timezone
from typing import Mapping

from duck_cli.errors import ExecutionError
from duck_cli.models import Settings

TIMEOUT = 20  # seconds per request: a store that does not answer fails the listing
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class StoreError(Exception):
    """A store refused or failed a request; the message names the status, never a secret."""


def version(size, modified: str | None, etag: str | None = None) -> str:
    """The version of one remote object from what its store reports.

    >>> version(10, "2026-01-01T00:00:00+00:00", '"ab12"'), version(10, "x")
    ('e:ab12:10', 'r:10:x')
    """
    if etag:
        return f"e:{etag.strip().strip(chr(34))}:{size}"
    return f"r:{size}:{modified or ''}"


# -- S3 --------------------------------------------------------------------------------------


def s3_secret(settings: Settings, url: str, environ: Mapping[str, str]) -> dict | None:
    """The duck.yaml secret DuckDB would use for ``url`` (type s3, the longest matching
    scope), with its env: values resolved; None when there is none or it is not a plain
    key/secret one (another provider: only DuckDB knows how to get its credentials)."""
    best, best_scope = None, -1
    for body in settings.secrets.values():
        scope = body.get("scope", "")
        if body.get("type") != "s3" or not url.startswith(scope) or len(scope) <= best_scope:
            continue
        best, best_scope = body, len(scope)
    if best is None or best.get("provider", "config") != "config" or "key_id" not in best:
        return None
    return {k: environ.get(v[4:], "") if v.startswith("env:") else v for k, v in best.items()}


def s3_objects(spec: str, secret: dict) -> dict[str, str]:
    """Version of every object a ``s3://bucket/key-glob`` names."""
    import xml.etree.ElementTree as ET

    bucket, _, key_glob = spec[len("s3://"):].partition("/")
    prefix = key_glob[:_first_magic(key_glob)]
    found: dict[str, str] = {}
    token = None
    while True:
        query = {"list-type": "2", "prefix": prefix}
        if token:
            query["continuation-token"] = token
        root = ET.fromstring(_s3_get(bucket, query, secret))
        for item in root.iter(f"{_NS}Contents"):
            key = item.findtext(f"{_NS}Key")
            url = f"s3://{bucket}/{key}"
            if key_glob == key or glob.has_magic(key_glob) and fnmatch.fnmatchcase(url, spec):
                found[url] = version(item.findtext(f"{_NS}Size"),
                                     item.findtext(f"{_NS}LastModified"),
                                     item.findtext(f"{_NS}ETag"))
        token = root.findtext(f"{_NS}NextContinuationToken")
        if root.findtext(f"{_NS}IsTruncated") != "true" or not token:
            return found


def _first_magic(text: str) -> int:
    hits = [i for i, c in enumerate(text) if c in "*?["]
    return hits[0] if hits else len(text)


def _s3_get(bucket: str, query: dict[str, str], secret: dict) -> bytes:
    """One signed GET on the bucket (AWS Signature Version 4)."""
    import urllib.error
    import urllib.request  # http.client, ssl and email: only for a remote source

    region = secret.get("region") or "us-east-1"
    endpoint = secret.get("endpoint") or f"s3.{region}.amazonaws.com"
    scheme = "http" if secret.get("use_ssl", "true").lower() == "false" else "https"
    path_style = secret.get("url_style", "vhost") == "path"
    host = endpoint if path_style else f"{bucket}.{endpoint}"
    path = f"/{bucket}" if path_style else "/"
    qs = "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted(query.items()))
    headers = _signed_headers(host, path, qs, secret, region)
    request = urllib.request.Request(f"{scheme}://{host}{path}?{qs}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        code = _error_code(err)
        raise StoreError(f"the store answered HTTP {err.code}{f' ({code})' if code else ''}") \
            from None
    except (urllib.error.URLError, OSError) as err:
        raise StoreError(f"{scheme}://{host} cannot be reached: "
                         f"{getattr(err, 'reason', err)}") from None


def _error_code(err) -> str:
    """The S3 error code (e.g. SignatureDoesNotMatch) of a refused request, if it has one."""
    import xml.etree.ElementTree as ET

    try:
        return ET.fromstring(err.read()).findtext("Code") or ""
    except (ET.ParseError, OSError):
        return ""


def _q(text: str) -> str:
    import urllib.parse

    return urllib.parse.quote(text, safe="-_.~")


def _signed_headers(host: str, path: str, qs: str, secret: dict, region: str) -> dict:
    """The headers of a SigV4-signed GET with an empty body."""
    now = datetime.now(timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(b"").hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    if secret.get("session_token"):
        headers["x-amz-security-token"] = secret["session_token"]
    names = ";".join(sorted(headers))
    import urllib.parse

    canonical = "\n".join(["GET", urllib.parse.quote(path, safe="/-_.~"), qs]
                          + [f"{k}:{headers[k]}" for k in sorted(headers)]
                          + ["", names, payload])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret.get("secret", "")).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={secret['key_id']}/{scope}, "
                                f"SignedHeaders={names}, Signature={signature}")
    return headers


# -- HTTP ------------------------------------------------------------------------------------


def http_object(url: str) -> str | None:
    """The version of one HTTP(S) object from a HEAD request (None: it does not exist)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            h = response.headers
    except urllib.error.HTTPError as err:
        if err.code in (404, 410):
            return None
        raise StoreError(f"the server answered HTTP {err.code} for {_shown(url)}") from None
    except (urllib.error.URLError, OSError) as err:
        raise StoreError(f"{_shown(url)} cannot be reached: {getattr(err, 'reason', err)}") \
            from None
    return version(h.get("Content-Length", ""), _http_time(h.get("Last-Modified")),
                   h.get("ETag"))


def _http_time(text: str | None) -> str | None:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(text).isoformat() if text else None
    except (TypeError, ValueError):
        return text


def _shown(url: str) -> str:
    """A URL without its query string (where a signed URL keeps its token)."""
    return url.split("?", 1)[0]


# -- choosing ------------------------------------------------------------------------------


def listing(settings: Settings, specs: list[str],
            environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """Version of every object the specs (URLs or s3 globs) name, asked of the store itself;
    None when duck cannot ask it (the caller lists through DuckDB instead)."""
    env = os.environ if environ is None else environ
    if all(s.lower().startswith(("http://", "https://")) for s in specs):
        if any(b.get("type") == "http" for b in settings.secrets.values()):
            return None  # headers or a token DuckDB adds: its own HEAD carries them
        return {s: v for s in specs if (v := http_object(s)) is not None}
    if all(s.startswith("s3://") for s in specs):
        secrets = [s3_secret(settings, s, env) for s in specs]
        if any(s is None for s in secrets):
            return None
        out: dict[str, str] = {}
        for spec, secret in zip(specs, secrets):
            out.update(s3_objects(spec, secret))
        return out
    return None


def listing_error(asset_name: str, path: str, err: StoreError) -> ExecutionError:
    """A remote source that cannot be listed: the store's status, never a credential."""
    return ExecutionError(
        f"source '{asset_name}' ({path}) cannot be listed: {err}", asset=asset_name,
        hint="Check the URL, that the secret named in duck.yaml (secrets:) holds valid "
             "credentials for it, and that extensions: lists httpfs.")
