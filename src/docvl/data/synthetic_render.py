"""Synthetic pages to PDF bytes: vector text with reportlab, or the same page rendered and embedded as an image.

Turned pages are drawn turned clockwise by `plan.rotation` degrees (the page itself is landscape for 90/270),
so turning the rendered image counter-clockwise by that amount (`docvl.page.rotate_image`, the convention of
`rotation_correction`) makes it upright again. No /Rotate entry is used: a reader must see the turn in the pixels.
"""

from __future__ import annotations

import io

from docvl.data.synthetic_layout import PagePlan


def _page_size(plan: PagePlan) -> tuple[float, float]:
    return (plan.height, plan.width) if plan.rotation in (90, 270) else (plan.width, plan.height)


def _turn(canvas, plan: PagePlan) -> None:
    """Map upright page coordinates onto the turned page (clockwise by plan.rotation)."""
    if plan.rotation == 90:
        canvas.translate(0, plan.width)
        canvas.rotate(-90)
    elif plan.rotation == 180:
        canvas.translate(plan.width, plan.height)
        canvas.rotate(180)
    elif plan.rotation == 270:
        canvas.translate(plan.height, 0)
        canvas.rotate(90)


def _canvas(buffer: io.BytesIO, plan: PagePlan):
    from reportlab.pdfgen.canvas import Canvas

    canvas = Canvas(buffer, pagesize=_page_size(plan), invariant=1, pageCompression=1)
    canvas.setTitle(f"docvl synthetic page {plan.index}")
    canvas.setCreator("docvl")
    return canvas


def render_vector(plan: PagePlan) -> bytes:
    """A one-page PDF whose text is real text (a text layer a PDF reader can extract)."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer, plan)
    _turn(canvas, plan)
    canvas.setLineWidth(0.6)
    for rule in plan.rules:
        canvas.line(rule.x0, rule.y0, rule.x1, rule.y1)
    for run in plan.runs:
        canvas.setFont(run.font, run.size)
        canvas.drawString(run.x, run.y, run.text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_image_only(plan: PagePlan, dpi: int) -> bytes:
    """A one-page PDF holding only a grey-scale JPEG of the page, as a scanner makes it (no text layer)."""
    from reportlab.lib.utils import ImageReader

    from docvl.pdf import PdfFile

    width, height = _page_size(plan)
    with PdfFile(render_vector(plan), name=f"synthetic page {plan.index}") as pdf:
        image = pdf.render(0, longest_side=round(max(width, height) * dpi / 72)).convert("L")
    encoded = io.BytesIO()
    image.save(encoded, format="JPEG", quality=85)
    buffer = io.BytesIO()
    canvas = _canvas(buffer, plan)
    canvas.drawImage(ImageReader(io.BytesIO(encoded.getvalue())), 0, 0, width, height)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_plan(plan: PagePlan, dpi: int) -> bytes:
    """The page's PDF in the kind its plan asks for."""
    return render_image_only(plan, dpi) if plan.image_only else render_vector(plan)
