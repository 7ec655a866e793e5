import gzip
import hashlib
import json
import os
import pickle
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from ingest_fixtures import ingest, make_tar, make_zip, notebook, write

from opencook.data.ingest import IngestConfig, IngestError, plan_ingest, read_task
from opencook.kit.stats import StageStats

PY = "def f(x):\n    return x + 1\n"


def make_repos(root: Path) -> Path:
    """Two repositories with one file of every interesting kind."""
    a, b = root / "repos" / "alpha", root / "repos" / "beta"
    write(a, "main.py", PY)
    write(a, "src/util.c", "int main(void) { return 0; }\n")
    write(a, "README.md", "# Alpha\n\nA repo.\n")
    write(a, "data.csv", "a,b\n1,2\n")
    write(a, "logo.xyz", "???")
    write(a, "lib.so.py", b"\x7fELF\x00\x00\x01\x02" * 10)
    write(a, "latin.py", "# Größe\nx = 1\n".encode("latin-1"))
    write(a, "empty.py", b"")
    write(a, "crlf.sh", b"echo a\r\necho b\r\n")
    write(a, "big.py", "x = 1\n" * 100)
    write(a, ".hidden.py", PY)
    write(a, ".git/config", "[core]\n")
    write(a, ".git/objects/ab.py", PY)
    write(a, "nb.ipynb", notebook([("markdown", "Intro"), ("code", "import os")]))
    write(a, "bad.ipynb", "{ nope")
    write(b, "Makefile", "all:\n\techo hi\n")
    write(b, "conf.json", '{"k": 1}\n')
    return root / "repos"


@pytest.fixture
def repos(tmp_path: Path) -> Path:
    return make_repos(tmp_path)


def test_tree_records_and_drops(repos, by_path):
    records, stats = ingest(IngestConfig(paths=[str(repos)], max_file_bytes=500))
    got = by_path(records)
    assert set(got) == {
        ("alpha", "main.py"),
        ("alpha", "src/util.c"),
        ("alpha", "README.md"),
        ("alpha", "latin.py"),
        ("alpha", "crlf.sh"),
        ("alpha", "nb.ipynb"),
        ("beta", "Makefile"),
        ("beta", "conf.json"),
    }
    assert dict(stats.dropped) == {
        "excluded:CSV": 1,
        "unknown_language": 1,
        "binary": 1,
        "empty": 1,
        "too_large": 1,
        "hidden": 1,
        "malformed_notebook": 1,
    }
    assert stats.dropped_bytes["too_large"] == 600
    assert stats.counters["files_seen"] == 15  # .git is never walked
    assert stats.counters["out"] == len(records) == 8
    assert stats.counters["decode:cp1252"] == 1
    assert stats.by_language["Python"]["files"] == 3
    assert stats.counters["in"] == stats.counters["out"] + sum(stats.dropped.values())


def test_record_fields(repos, by_path):
    got = by_path(ingest(IngestConfig(paths=[str(repos)]))[0])
    r = got[("alpha", "src/util.c")]
    assert r["id"] == hashlib.sha1(b"alpha\0src/util.c").hexdigest()
    assert (r["filename"], r["ext"], r["language"], r["doc_type"]) == ("util.c", "c", "C", "code")
    assert r["size_bytes"] == 29 and r["stars"] is None and r["commit_time"] is None
    assert got[("beta", "Makefile")]["ext"] == ""
    assert got[("beta", "conf.json")]["doc_type"] == "data"
    assert got[("alpha", "README.md")]["doc_type"] == "text"
    assert got[("alpha", "crlf.sh")]["text"] == "echo a\necho b\n"
    assert got[("alpha", "crlf.sh")]["size_bytes"] == 16
    assert got[("alpha", "latin.py")]["text"] == "# Größe\nx = 1\n"
    nb = got[("alpha", "nb.ipynb")]
    assert (nb["language"], nb["text"]) == ("Python", "# %% [markdown]\n# Intro\n\n# %%\nimport os\n")


def test_keep_doc_types(repos):
    records, stats = ingest(IngestConfig(paths=[str(repos)], keep_doc_types=["code"]))
    assert {r["doc_type"] for r in records} == {"code"}
    assert stats.dropped["doc_type:text"] == 1 and stats.dropped["doc_type:data"] == 1


def test_include_hidden(repos, by_path):
    got = by_path(ingest(IngestConfig(paths=[str(repos)], include_hidden=True))[0])
    assert ("alpha", ".hidden.py") in got
    assert not any(".git/" in path for _, path in got)


def test_layouts(repos, by_path):
    one = by_path(ingest(IngestConfig(paths=[str(repos / "alpha")]))[0])
    assert ("alpha", "main.py") in one  # auto: top-level files -> one repository
    whole = by_path(ingest(IngestConfig(paths=[str(repos)], layout="repo"))[0])
    assert ("repos", "alpha/main.py") in whole and ("repos", "beta/Makefile") in whole
    (repos / "alpha" / ".git").mkdir(exist_ok=True)
    assert ("alpha", "main.py") in by_path(ingest(IngestConfig(paths=[str(repos)], layout="repos"))[0])


def test_auto_with_git_dir_is_one_repo(tmp_path, by_path):
    write(tmp_path / "proj", "pkg/a.py", PY)
    write(tmp_path / "proj", "tests/b.py", PY)
    (tmp_path / "proj" / ".git").mkdir()
    got = by_path(ingest(IngestConfig(paths=[str(tmp_path / "proj")]))[0])
    assert set(got) == {("proj", "pkg/a.py"), ("proj", "tests/b.py")}


def test_symlinks(tmp_path, by_path):
    root = tmp_path / "r"
    write(root, "a.py", PY)
    os.symlink(root / "a.py", root / "link.py")
    records, stats = ingest(IngestConfig(paths=[str(root)]))
    assert len(records) == 1 and stats.dropped["symlink"] == 1
    got = by_path(ingest(IngestConfig(paths=[str(root)], follow_symlinks=True))[0])
    assert got[("r", "link.py")]["text"] == PY


def test_plan_is_deterministic_picklable_and_reads_each_file_once(repos, tmp_path):
    for i in range(25):
        write(repos / "beta", f"many/f{i:02d}.py", f"x = {i}\n")
    make_tar(repos / "gamma.tar.gz", {"gamma/a.py": PY.encode()})
    config = IngestConfig(paths=[str(repos)], files_per_task=4)
    plan = plan_ingest(config)
    assert plan == plan_ingest(config)
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert len(plan) > 5
    assert all(len(t.files) <= 4 for t in plan)
    records, stats = ingest(config)
    keys = [(r["repo"], r["path"]) for r in records]
    assert len(keys) == len(set(keys)) == 9 + 25 + 1  # big.py is kept at the default size limit
    assert stats.counters["files_seen"] == 15 + 25 + 1


def test_tar_gz_zip_and_zst_archives(tmp_path, by_path):
    files = {"proj-main/src/a.py": PY.encode(), "proj-main/b.md": b"# b\n", "proj-main/c.csv": b"1,2\n"}
    make_tar(tmp_path / "one.tar.gz", files)
    make_zip(tmp_path / "two.zip", {"x.py": PY.encode(), "d/y.go": b"package d\n", "d/.h.py": PY.encode()})
    raw_tar = make_tar(
        tmp_path / "three.tar", {"top/a.rs": b"fn main() {}\n", "other/b.rs": b"fn f() {}\n"}, "w"
    )
    (tmp_path / "three.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(raw_tar.read_bytes()))
    raw_tar.unlink()
    records, stats = ingest(
        IngestConfig(paths=[str(tmp_path / n) for n in ("one.tar.gz", "two.zip", "three.tar.zst")])
    )
    assert set(by_path(records)) == {
        ("one", "src/a.py"),
        ("one", "b.md"),
        ("two", "x.py"),
        ("two", "d/y.go"),
        ("three", "top/a.rs"),
        ("three", "other/b.rs"),
    }
    assert stats.dropped["excluded:CSV"] == 1 and stats.dropped["hidden"] == 1


def test_archive_too_large_member(tmp_path):
    make_tar(tmp_path / "r.tgz", {"a.py": b"x = 1\n" * 50, "b.py": b"y = 2\n"})
    records, stats = ingest(IngestConfig(paths=[str(tmp_path / "r.tgz")], max_file_bytes=100))
    assert [r["path"] for r in records] == ["b.py"]
    assert stats.dropped_bytes["too_large"] == 300


def test_corrupt_archive_fails_at_plan(tmp_path):
    (tmp_path / "bad.tar.gz").write_bytes(b"this is not gzip at all")
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 nope")
    for name in ("bad.tar.gz", "bad.zip"):
        with pytest.raises(IngestError, match=name):
            plan_ingest(IngestConfig(paths=[str(tmp_path / name)]))


def test_truncated_tar_gz_fails_at_read(tmp_path):
    files = {f"r/f{i}.py": os.urandom(2000).hex().encode() for i in range(50)}
    path = make_tar(tmp_path / "cut.tar.gz", files)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    config = IngestConfig(paths=[str(path)])
    (task,) = plan_ingest(config)
    with pytest.raises(IngestError, match="cut.tar.gz"):
        list(read_task(task, config, StageStats()))


def jsonl_rows() -> list[str]:
    return [
        json.dumps({"text": PY, "path": "pkg/a.py", "repo": "o/r", "stars": 5, "commit_time": 1700000000}),
        json.dumps({"content": "SELECT 1;\r\n", "path": "q.sql", "repo_name": "o/s"}),
        json.dumps({"text": "x", "path": "weird.name", "language": "python"}),
        "{this is not json",
        json.dumps({"path": "no_text.py"}),
        json.dumps({"text": "a,b\n", "path": "t.csv"}),
        "",
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_jsonl_inputs(tmp_path, by_path, suffix):
    data = "\n".join(jsonl_rows()).encode()
    if suffix.endswith(".gz"):
        data = gzip.compress(data)
    elif suffix.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"files{suffix}"
    path.write_bytes(data)
    records, stats = ingest(IngestConfig(paths=[str(path)]))
    got = by_path(records)
    assert set(got) == {("o/r", "pkg/a.py"), ("o/s", "q.sql"), ("", "weird.name")}
    a = got[("o/r", "pkg/a.py")]
    assert (a["stars"], a["commit_time"], a["language"], a["size_bytes"]) == (
        5,
        1700000000,
        "Python",
        len(PY),
    )
    assert got[("o/s", "q.sql")]["text"] == "SELECT 1;\n"
    assert got[("", "weird.name")]["language"] == "Python"
    assert dict(stats.dropped) == {"malformed_json_line": 1, "missing_fields": 1, "excluded:CSV": 1}
    assert stats.counters["files_seen"] == 6
    assert stats.counters["in"] == stats.counters["out"] + sum(stats.dropped.values())


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_truncated_compressed_jsonl(tmp_path, suffix):
    data = "\n".join(
        json.dumps({"text": os.urandom(300).hex(), "path": f"{i}.py"}) for i in range(300)
    ).encode()
    comp = gzip.compress(data) if suffix.endswith(".gz") else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(comp[: len(comp) // 2])
    config = IngestConfig(paths=[str(path)])
    with pytest.raises(IngestError, match=f"cut{suffix}"):
        for task in plan_ingest(config):
            list(read_task(task, config, StageStats()))


def write_parquet(path: Path, n: int, row_group_size: int) -> Path:
    table = pa.table(
        {
            "text": [f"x = {i}\n" for i in range(n)],
            "path": [f"m{i}.py" for i in range(n)],
            "repo": ["o/p"] * n,
            "commit_time": ["2024-01-02T03:04:05Z"] * n,
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def test_parquet_row_group_tasks(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", 100, 10)
    config = IngestConfig(paths=[str(path)], files_per_task=25)
    plan = plan_ingest(config)
    assert [t.row_groups for t in plan] == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9,)]
    records, stats = ingest(config)
    assert sorted(r["path"] for r in records) == sorted(f"m{i}.py" for i in range(100))
    assert records[0]["commit_time"] == 1704164645
    assert stats.by_language["Python"]["files"] == 100


def test_truncated_parquet(tmp_path):
    path = write_parquet(tmp_path / "t.parquet", 50, 10)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IngestError, match="t.parquet"):
        plan_ingest(IngestConfig(paths=[str(path)]))


def test_parquet_without_required_columns(tmp_path):
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "w.parquet")
    with pytest.raises(IngestError, match="text, path"):
        plan_ingest(IngestConfig(paths=[str(tmp_path / "w.parquet")]))


def test_missing_and_empty_inputs(tmp_path):
    with pytest.raises(IngestError, match="does-not-exist"):
        plan_ingest(IngestConfig(paths=[str(tmp_path / "does-not-exist")]))
    with pytest.raises(IngestError, match="no input files"):
        plan_ingest(IngestConfig(paths=[str(tmp_path)]))
    with pytest.raises(IngestError, match="matches nothing"):
        plan_ingest(IngestConfig(paths=[str(tmp_path / "*.parquet")]))
    write(tmp_path, "single.py", PY)
    with pytest.raises(IngestError, match="single.py"):
        plan_ingest(IngestConfig(paths=[str(tmp_path / "single.py")]))
    with pytest.raises(IngestError, match="layout"):
        IngestConfig(paths=[str(tmp_path)], layout="flat")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_sidecar_metadata(repos, tmp_path, by_path, fmt):
    if fmt == "csv":
        side = write(
            tmp_path, "meta.csv", "repo,stars,commit_time\nalpha,42,2023-11-14T22:13:20Z\nbeta,7,1600000000\n"
        )
    else:
        rows = [
            {"repo": "alpha", "stars": 42, "commit_time": "2023-11-14T22:13:20+00:00"},
            {"repo": "beta", "stars": "7", "commit_time": 1600000000},
        ]
        side = write(tmp_path, "meta.jsonl", "\n".join(json.dumps(r) for r in rows))
    got = by_path(ingest(IngestConfig(paths=[str(repos)], metadata=str(side)))[0])
    assert (got[("alpha", "main.py")]["stars"], got[("alpha", "main.py")]["commit_time"]) == (42, 1700000000)
    assert (got[("beta", "Makefile")]["stars"], got[("beta", "Makefile")]["commit_time"]) == (7, 1600000000)


def test_bad_sidecar(repos, tmp_path):
    side = write(tmp_path, "meta.csv", "repo,stars,commit_time\nalpha,many,yesterday\n")
    with pytest.raises(IngestError, match=r"meta.csv:2"):
        plan_ingest(IngestConfig(paths=[str(repos)], metadata=str(side)))
    with pytest.raises(IngestError, match="nope.csv"):
        plan_ingest(IngestConfig(paths=[str(repos)], metadata=str(tmp_path / "nope.csv")))
