"""The arXiv category taxonomy: every current category code with its name and group.

Written down here (from arxiv.org/category_taxonomy) so that choosing categories works
offline: ``digest init`` searches it and the sign-up form lists it. Importing this module
costs nothing beyond the standard library::

    >>> [c.code for c in search("robot")]
    ['cs.RO']
    >>> problem("cs.LGG")
    "unknown arXiv category 'cs.LGG' (did you mean 'cs.LG'?)"
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.errors import did_you_mean

__all__ = [
    "CATEGORIES",
    "GROUPS",
    "Category",
    "by_code",
    "is_known",
    "problem",
    "search",
    "suggest",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    """One arXiv category: ``code`` as feeds and listings spell it (``cs.LG``), its ``name``
    (``Machine Learning``) and the ``group`` it is listed under (``Computer Science``)."""

    code: str
    name: str
    group: str

    @property
    def archive(self) -> str:
        """The archive the category belongs to: ``cs`` for ``cs.LG``, ``hep-th`` for itself."""
        return self.code.split(".", 1)[0]


def _group(group: str, text: str) -> list[Category]:
    rows = (line.split(maxsplit=1) for line in text.strip().splitlines())
    return [Category(code=code, name=name.strip(), group=group) for code, name in rows]


CATEGORIES: tuple[Category, ...] = (
    *_group(
        "Computer Science",
        """
        cs.AI Artificial Intelligence
        cs.AR Hardware Architecture
        cs.CC Computational Complexity
        cs.CE Computational Engineering, Finance, and Science
        cs.CG Computational Geometry
        cs.CL Computation and Language
        cs.CR Cryptography and Security
        cs.CV Computer Vision and Pattern Recognition
        cs.CY Computers and Society
        cs.DB Databases
        cs.DC Distributed, Parallel, and Cluster Computing
        cs.DL Digital Libraries
        cs.DM Discrete Mathematics
        cs.DS Data Structures and Algorithms
        cs.ET Emerging Technologies
        cs.FL Formal Languages and Automata Theory
        cs.GL General Literature
        cs.GR Graphics
        cs.GT Computer Science and Game Theory
        cs.HC Human-Computer Interaction
        cs.IR Information Retrieval
        cs.IT Information Theory
        cs.LG Machine Learning
        cs.LO Logic in Computer Science
        cs.MA Multiagent Systems
        cs.MM Multimedia
        cs.MS Mathematical Software
        cs.NA Numerical Analysis
        cs.NE Neural and Evolutionary Computing
        cs.NI Networking and Internet Architecture
        cs.OH Other Computer Science
        cs.OS Operating Systems
        cs.PF Performance
        cs.PL Programming Languages
        cs.RO Robotics
        cs.SC Symbolic Computation
        cs.SD Sound
        cs.SE Software Engineering
        cs.SI Social and Information Networks
        cs.SY Systems and Control
        """,
    ),
    *_group(
        "Economics",
        """
        econ.EM Econometrics
        econ.GN General Economics
        econ.TH Theoretical Economics
        """,
    ),
    *_group(
        "Electrical Engineering and Systems Science",
        """
        eess.AS Audio and Speech Processing
        eess.IV Image and Video Processing
        eess.SP Signal Processing
        eess.SY Systems and Control
        """,
    ),
    *_group(
        "Mathematics",
        """
        math.AC Commutative Algebra
        math.AG Algebraic Geometry
        math.AP Analysis of PDEs
        math.AT Algebraic Topology
        math.CA Classical Analysis and ODEs
        math.CO Combinatorics
        math.CT Category Theory
        math.CV Complex Variables
        math.DG Differential Geometry
        math.DS Dynamical Systems
        math.FA Functional Analysis
        math.GM General Mathematics
        math.GN General Topology
        math.GR Group Theory
        math.GT Geometric Topology
        math.HO History and Overview
        math.IT Information Theory
        math.KT K-Theory and Homology
        math.LO Logic
        math.MG Metric Geometry
        math.MP Mathematical Physics
        math.NA Numerical Analysis
        math.NT Number Theory
        math.OA Operator Algebras
        math.OC Optimization and Control
        math.PR Probability
        math.QA Quantum Algebra
        math.RA Rings and Algebras
        math.RT Representation Theory
        math.SG Symplectic Geometry
        math.SP Spectral Theory
        math.ST Statistics Theory
        """,
    ),
    *_group(
        "Physics",
        """
        astro-ph.CO Cosmology and Nongalactic Astrophysics
        astro-ph.EP Earth and Planetary Astrophysics
        astro-ph.GA Astrophysics of Galaxies
        astro-ph.HE High Energy Astrophysical Phenomena
        astro-ph.IM Instrumentation and Methods for Astrophysics
        astro-ph.SR Solar and Stellar Astrophysics
        cond-mat.dis-nn Disordered Systems and Neural Networks
        cond-mat.mes-hall Mesoscale and Nanoscale Physics
        cond-mat.mtrl-sci Materials Science
        cond-mat.other Other Condensed Matter
        cond-mat.quant-gas Quantum Gases
        cond-mat.soft Soft Condensed Matter
        cond-mat.stat-mech Statistical Mechanics
        cond-mat.str-el Strongly Correlated Electrons
        cond-mat.supr-con Superconductivity
        gr-qc General Relativity and Quantum Cosmology
        hep-ex High Energy Physics - Experiment
        hep-lat High Energy Physics - Lattice
        hep-ph High Energy Physics - Phenomenology
        hep-th High Energy Physics - Theory
        math-ph Mathematical Physics
        nlin.AO Adaptation and Self-Organizing Systems
        nlin.CD Chaotic Dynamics
        nlin.CG Cellular Automata and Lattice Gases
        nlin.PS Pattern Formation and Solitons
        nlin.SI Exactly Solvable and Integrable Systems
        nucl-ex Nuclear Experiment
        nucl-th Nuclear Theory
        physics.acc-ph Accelerator Physics
        physics.ao-ph Atmospheric and Oceanic Physics
        physics.app-ph Applied Physics
        physics.atm-clus Atomic and Molecular Clusters
        physics.atom-ph Atomic Physics
        physics.bio-ph Biological Physics
        physics.chem-ph Chemical Physics
        physics.class-ph Classical Physics
        physics.comp-ph Computational Physics
        physics.data-an Data Analysis, Statistics and Probability
        physics.ed-ph Physics Education
        physics.flu-dyn Fluid Dynamics
        physics.gen-ph General Physics
        physics.geo-ph Geophysics
        physics.hist-ph History and Philosophy of Physics
        physics.ins-det Instrumentation and Detectors
        physics.med-ph Medical Physics
        physics.optics Optics
        physics.plasm-ph Plasma Physics
        physics.pop-ph Popular Physics
        physics.soc-ph Physics and Society
        physics.space-ph Space Physics
        quant-ph Quantum Physics
        """,
    ),
    *_group(
        "Quantitative Biology",
        """
        q-bio.BM Biomolecules
        q-bio.CB Cell Behavior
        q-bio.GN Genomics
        q-bio.MN Molecular Networks
        q-bio.NC Neurons and Cognition
        q-bio.OT Other Quantitative Biology
        q-bio.PE Populations and Evolution
        q-bio.QM Quantitative Methods
        q-bio.SC Subcellular Processes
        q-bio.TO Tissues and Organs
        """,
    ),
    *_group(
        "Quantitative Finance",
        """
        q-fin.CP Computational Finance
        q-fin.EC Economics
        q-fin.GN General Finance
        q-fin.MF Mathematical Finance
        q-fin.PM Portfolio Management
        q-fin.PR Pricing of Securities
        q-fin.RM Risk Management
        q-fin.ST Statistical Finance
        q-fin.TR Trading and Market Microstructure
        """,
    ),
    *_group(
        "Statistics",
        """
        stat.AP Applications
        stat.CO Computation
        stat.ME Methodology
        stat.ML Machine Learning
        stat.OT Other Statistics
        stat.TH Statistics Theory
        """,
    ),
)

#: the groups, in the order arXiv lists them
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(c.group for c in CATEGORIES))

_BY_CODE = {c.code: c for c in CATEGORIES}
_BY_FOLDED = {c.code.casefold(): c for c in CATEGORIES}


def by_code(code: str) -> Category | None:
    """The category ``code`` names, in any letter case (``cs.lg`` is ``cs.LG``); else ``None``."""
    return _BY_CODE.get(code.strip()) or _BY_FOLDED.get(code.strip().casefold())


def is_known(code: str) -> bool:
    """Whether ``code`` is a category code spelled exactly as arXiv spells it."""
    return code in _BY_CODE


def search(text: str, limit: int | None = 20) -> list[Category]:
    """Categories whose code or name contains ``text`` (any case), best first.

    Order: the exact code, codes starting with ``text`` (``cs.l``: cs.LG, cs.LO), names
    with a word starting with it (``robot``: cs.RO Robotics), names containing it, codes
    containing it, then names holding each of several words; taxonomy order within each.
    Empty ``text`` lists every category. At most ``limit`` (``None``: no limit).
    """
    query = " ".join(text.casefold().split())
    if not query:
        return list(CATEGORIES[:limit])
    words = query.split()
    ranked: list[tuple[int, int, Category]] = []
    for i, c in enumerate(CATEGORIES):
        code, name = c.code.casefold(), c.name.casefold()
        name_words = name.replace(",", " ").replace("-", " ").split()
        if code == query:
            tier = 0
        elif code.startswith(query):
            tier = 1
        elif name.startswith(query) or any(w.startswith(query) for w in name_words):
            tier = 2
        elif query in name:
            tier = 3
        elif query in code:
            tier = 4
        elif len(words) > 1 and all(any(n.startswith(w) for n in name_words) for w in words):
            tier = 5
        else:
            continue
        ranked.append((tier, i, c))
    ranked.sort(key=lambda row: row[:2])
    return [c for _, _, c in ranked[:limit]]


def suggest(code: str) -> str:
    """``" (did you mean 'cs.LG'?)"`` for the category nearest to an unknown ``code`` (by
    spelling, else the best :func:`search` match); ``""`` when nothing is near."""
    if (found := by_code(code)) is not None:
        return f" (did you mean {found.code!r}?)"
    if near := did_you_mean(_shaped(code), _BY_CODE):
        return near
    matches = search(code, limit=1)
    return f" (did you mean {matches[0].code!r}?)" if matches else ""


def _shaped(code: str) -> str:
    """``code`` in the letter case arXiv codes have (``CS.lgg`` -> ``cs.LGG``), so that
    spelling distance counts letters, not case."""
    archive, dot, subject = code.strip().partition(".")
    short = len(subject) <= 3 and subject.isalpha()
    return archive.lower() + dot + (subject.upper() if short else subject.lower())


def problem(code: str) -> str | None:
    """The one line saying ``code`` is not an arXiv category, with the nearest one; ``None``
    when it is one."""
    if is_known(code):
        return None
    return f"unknown arXiv category {code!r}{suggest(code)}"
