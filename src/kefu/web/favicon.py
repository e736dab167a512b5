"""The site icon: browsers ask for ``/favicon.ico`` on every site whatever the page links, so
it is answered (with the SVG the layout links as ``/static/favicon.svg``) instead of a 404 in
every log and browser console."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

ICON = Path(__file__).resolve().parent / "static" / "favicon.svg"

router = APIRouter(include_in_schema=False)


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """Public, like /static: no sign-in, cached for a day."""
    return FileResponse(ICON, media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip
