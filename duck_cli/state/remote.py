"""Remote objects' versions from their store's metadata: the ETag, size and last-modified.

An S3 bucket is listed with ListObjectsV2 through botocore (one request per 1,000 objects, no
content read); an HTTP URL is asked with HEAD. An object's version is its ETag and size when the store
reports an ETag (``e:<etag>:<size>``), else its size and last-modified (``r:<size>:<time>``),
so nothing is downloaded to learn whether it changed.

Last-modified is left out when there is an ETag, on purpose: S3 gives a single-part object the
MD5 of its bytes as ETag, so re-delivering the same bytes (a new last-modified) is no change and
plans nothing. A store whose ETag is not derived from the bytes (an HTTP server's
``mtime-size``, an S3 multipart upload's ``md5-of-parts-N``) reports a re-delivery of the same
bytes as a new ETag, and duck rebuilds those partitions: it trusts the store rather than
downloading every object to hash it.

`listing` returns None where duck cannot ask the store itself (no or unsupported secret, other
schemes, botocore not installed); the caller then lists through DuckDB, which reports size and last-modified only.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from typing import Mapping

from duck_cli.errors import ExecutionError
from duck_cli.models import Settings

TIMEOUT = 20  # seconds per request: a store that does not answer fails the listing


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
    """Version of every object a ``s3://bucket/key-glob`` names (ListObjectsV2 through
    botocore, the AWS SDK's own client: its signing, retries and pagination)."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key_glob = spec[len("s3://"):].partition("/")
    found: dict[str, str] = {}
    pages = _s3_client(secret).get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=key_glob[:_first_magic(key_glob)])
    try:
        for page in pages:
            for item in page.get("Contents", ()):
                url = f"s3://{bucket}/{item['Key']}"
                if item["Key"] == key_glob or glob.has_magic(key_glob) and \
                        fnmatch.fnmatchcase(url, spec):
                    found[url] = version(item["Size"], item["LastModified"].isoformat(),
                                         item.get("ETag"))
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        code = err.response.get("Error", {}).get("Code", "")
        raise StoreError(f"the store answered HTTP {status}{f' ({code})' if code else ''}") \
            from None
    except BotoCoreError as err:  # unreachable endpoint, bad URL: no credential in the text
        raise StoreError(f"the store cannot be reached: {err}") from None
    return found


def has_client() -> bool:
    """Whether botocore (the remote extra, or boto3) is installed to ask S3 for ETags."""
    import importlib.util

    return importlib.util.find_spec("botocore") is not None


def _s3_client(secret: dict):
    """A botocore S3 client for a duck.yaml secret of DuckDB's s3 type (its endpoint,
    region, URL style and SSL setting mean what they mean to DuckDB)."""
    import botocore.session
    from botocore.config import Config

    endpoint = secret.get("endpoint")
    scheme = "http" if str(secret.get("use_ssl", "true")).lower() == "false" else "https"
    style = "path" if secret.get("url_style") == "path" else "virtual"
    return botocore.session.get_session().create_client(
        "s3", region_name=secret.get("region") or "us-east-1",
        endpoint_url=f"{scheme}://{endpoint}" if endpoint else None,
        aws_access_key_id=secret.get("key_id"), aws_secret_access_key=secret.get("secret"),
        aws_session_token=secret.get("session_token") or None,
        config=Config(s3={"addressing_style": style}, connect_timeout=TIMEOUT,
                      read_timeout=TIMEOUT, retries={"max_attempts": 2}))


def _first_magic(text: str) -> int:
    hits = [i for i, c in enumerate(text) if c in "*?["]
    return hits[0] if hits else len(text)


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
        if any(s is None for s in secrets) or not has_client():
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
