"""``exclude`` prunes directory trees by glob before anything is read."""

from opencook.data.ingest import IngestConfig, plan_ingest, read_task
from opencook.kit.stats import StageStats


def test_exclude_prunes_directories_and_files(tmp_path):
    repo = tmp_path / "repo"
    for rel in ("pkg/a.py", "pkg/test/b.py", "test/c.py", "test_d.py", "docs/e.md"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(f"x = '{rel}'\n")
    config = IngestConfig(paths=[str(repo)], layout="repo", exclude=["test/*", "*/test/*", "*.md"])
    stats = StageStats()
    paths = sorted(r["path"] for task in plan_ingest(config) for r in read_task(task, config, stats))
    assert paths == ["pkg/a.py", "test_d.py"]
    assert sum(stats.dropped.values()) == 0
