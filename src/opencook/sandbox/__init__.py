"""Run untrusted generated Python programs: fresh interpreter, temp dir, limits, no network where possible."""

from opencook.sandbox.runner import isolation_report, run_programs
from opencook.sandbox.types import KINDS, Limits, Outcome, Program

__all__ = ["KINDS", "Limits", "Outcome", "Program", "isolation_report", "run_programs"]
