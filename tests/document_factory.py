"""Build test documents (PDF, DOCX) with known text, so tests can check what the readers recover."""

from __future__ import annotations

from pathlib import Path

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

# Text written for these tests: a short municipal plan about co-creation, with æøå.
PLAN_PAGES = [
    {
        "heading": "1 Innledning",
        "paragraphs": [
            "Kommuneplanen beskriver hvordan Fjellvik kommune vil utvikle lokalsamfunnet fram mot 2036. "
            "Planen bygger på innspill fra innbyggere, lag og foreninger, næringslivet og de ansatte i kommunen.",
            "Samskaping er en arbeidsform der kommunen og innbyggerne sammen definerer utfordringer og prøver ut "
            "løsninger. Kommunestyret har bestemt at denne måten å jobbe på skal prege alle sektorer.",
        ],
    },
    {
        "heading": "2 Mål for perioden",
        "paragraphs": [
            "Kommunen skal gjøre det enklere for frivillige å bidra. Vi vil åpne skoler og kulturhus for lag "
            "som trenger lokaler på kveldstid, og vi vil forenkle søknadene om tilskudd til små arrangementer.",
            "Ungdomsrådet får en fast plass i arbeidet med nye møteplasser i sentrum. Rådet skal høres før "
            "saker om fritidstilbud går til politisk behandling, og det skal få et eget budsjett.",
        ],
    },
    {
        "heading": "3 Oppfølging",
        "paragraphs": [
            "Kommunedirektøren rapporterer hvert år på hvordan samskapingen har fungert, og hva innbyggerne "
            "har fått være med på. Rapporten legges fram for kommunestyret sammen med årsmeldingen.",
            "Erfaringene fra bydelene viser at tillit tar tid å bygge. Derfor vil kommunen satse på faste "
            "kontaktpersoner som følger arbeidet over flere år i stedet for korte prosjekter.",
        ],
    },
    {
        "heading": "4 Helse og omsorg",
        "paragraphs": [
            "Eldrerådet og pårørendeforeningen har laget en plan for aktivitetstilbud på sykehjemmene. "
            "Kommunen stiller med lokaler og transport, mens frivillige står for innholdet.",
            "Hjemmetjenesten prøver ut digitale tilsyn i to soner. Brukerne har vært med på å velge utstyr, "
            "og ordningen evalueres sammen med dem før den eventuelt utvides.",
        ],
    },
    {
        "heading": "5 Klima og miljø",
        "paragraphs": [
            "Klimaplanen følges opp gjennom et partnerskap med bedrifter på Nordneset. Partene deler data om "
            "energibruk og møtes to ganger i året for å avtale felles tiltak.",
            "Skolene deltar med elevprosjekter om lokal natur. Elevene kartlegger bekker og turstier og "
            "legger resultatene fram for planutvalget.",
        ],
    },
    {
        "heading": "6 Økonomi",
        "paragraphs": [
            "Tiltakene i planen finansieres innenfor de ordinære rammene. Enkelte tiltak forutsetter "
            "eksterne midler, og kommunen vil søke fylkeskommunen om støtte.",
            "Budsjettet for samskapingsarbeidet er 1,2 millioner kroner per år i perioden.",
        ],
    },
]


def plan_pdf(path: Path, *, pages: list[dict] | None = None, header: bool = True, footer: bool = True,
             hyphenate: str | None = None) -> Path:
    """A plan PDF: running header (alternating), page-number footer, bold headings, 11 pt body text.

    ``hyphenate`` is a word ("samskaping") to break across a line end with a hyphen on page 1.
    """
    from fpdf import FPDF

    pages = pages or PLAN_PAGES

    class Plan(FPDF):
        def header(self) -> None:
            if header:
                self.set_font("body", "", 8)
                title = "Kommuneplan for Fjellvik 2024–2036" if self.page_no() % 2 else "Samfunnsdelen – høringsutkast"
                self.cell(0, 5, title, new_x="LMARGIN", new_y="NEXT")
                self.ln(4)

        def footer(self) -> None:
            if footer:
                self.set_y(-15)
                self.set_font("body", "", 8)
                self.cell(0, 8, f"Side {self.page_no()} av {{nb}}", align="C")

    pdf = Plan()
    pdf.add_font("body", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("body", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    for number, page in enumerate(pages):
        pdf.add_page()
        pdf.set_font("body", "B", 14)
        pdf.cell(0, 10, page["heading"], new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("body", "", 11)
        for i, paragraph in enumerate(page["paragraphs"]):
            if hyphenate and number == 0 and i == 0:
                before, _, after = paragraph.partition(" ")
                half = len(hyphenate) // 2
                pdf.multi_cell(0, 6, f"{before} {hyphenate[:half]}-", new_x="LMARGIN", new_y="NEXT")
                pdf.multi_cell(0, 6, f"{hyphenate[half:]} {after}", new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    pdf.output(str(path))
    return path


def text_pdf(path: Path, pages: list[list[str]], *, header: str | None = None, footer: bool = True) -> Path:
    """A PDF whose pages hold the given paragraphs (11 pt, 4 mm between paragraphs), optional running header."""
    from fpdf import FPDF

    class Doc(FPDF):
        def header(self) -> None:
            if header:
                self.set_font("body", "", 8)
                self.cell(0, 5, header, new_x="LMARGIN", new_y="NEXT")
                self.ln(4)

        def footer(self) -> None:
            if footer:
                self.set_y(-15)
                self.set_font("body", "", 8)
                self.cell(0, 8, str(self.page_no()), align="C")

    pdf = Doc()
    pdf.set_auto_page_break(False)
    pdf.add_font("body", "", str(FONT_DIR / "DejaVuSans.ttf"))
    for paragraphs in pages:
        pdf.add_page()
        pdf.set_font("body", "", 11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.ln(4)
    pdf.output(str(path))
    return path


def strategy_docx(path: Path) -> Path:
    """A DOCX strategy: title, heading styles, body paragraphs, and a table with a merged header cell."""
    import docx

    document = docx.Document()
    document.add_heading("Strategi for frivillighet", level=0)
    document.add_heading("Bakgrunn", level=1)
    document.add_paragraph("Frivillige lag bidrar hvert år med tusenvis av timer i nærmiljøet. Kommunen vil gjøre det "
                           "enklere å være frivillig og samarbeide tettere med lagene.")
    document.add_heading("Tiltak", level=1)
    table = document.add_table(rows=3, cols=2)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "Tiltak i perioden"
    table.cell(1, 0).text = "Frivillighetskoordinator"
    table.cell(1, 1).text = "2025"
    table.cell(2, 0).text = "Felles utstyrsbank"
    table.cell(2, 1).text = "2026"
    document.add_paragraph("Tiltakene følges opp i den årlige meldingen til kommunestyret, der lagene selv får si "
                           "hvordan samarbeidet har fungert.")
    document.save(str(path))
    return path
