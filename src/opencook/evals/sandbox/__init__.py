"""Run untrusted generated Python programs: fresh interpreter, temp dir, limits, no network where possible."""

from opencook.evals.sandbox.isolation import isolation_report
from opencook.evals.sandbox.runner import run_programs
from opencook.evals.sandbox.types import KINDS, Limits, Outcome, Program

__all__ = ["KINDS", "Limits", "Outcome", "Program", "isolation_report", "run_programs"]
