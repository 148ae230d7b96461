"""The HTML status report: a static site of plain HTML, CSS and SVG (site, pages, asset, svg,
charts, templates); it renders what the CLI read and never opens DuckDB."""
