"""PII/secret redaction: every planted kind replaced, look-alikes left alone, code stays valid."""

from __future__ import annotations

import ast
import time

import pytest

from opencook.data.transform.pii import redact_pii

GHP = "ghp_" + "aB3" * 12
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7v\nq9Zk3fQ==\n-----END RSA PRIVATE KEY-----"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"

PLANTED = [
    ("contact = 'john.doe@gmail.com'", "contact = '<email>'", "email"),
    ("# Author: Ann Lee <ann.lee@corp.co.uk>", "# Author: Ann Lee <<email>>", "email"),
    ("HOST = '52.14.3.99'", "HOST = '<ip_address>'", "ip_address"),
    ("addr = '2607:f8b0:4005:80a::200e'", "addr = '<ip_address>'", "ip_address"),
    ('password = "hunter22"', 'password = "<password>"', "password"),
    ("db_passwd: str = 's3cr3t!'", "db_passwd: str = '<password>'", "password"),
    ("conn(user='u', password='tiger99')", "conn(user='u', password='<password>')", "password"),
    ("if pwd == 'letmein':", "if pwd == '<password>':", "password"),
    ('SECRET_KEY = "django-insecure-8f7a6s5d4f3g"', 'SECRET_KEY = "<key>"', "key"),
    ('cfg = {"api_key": "abcd1234efgh5678"}', 'cfg = {"api_key": "<key>"}', "key"),
    ('$config["apiKey"] => "Zx81Qw93Lm55"', '$config["apiKey"] => "<key>"', "key"),
    ("aws_secret_access_key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzABCDE'", "aws_secret_access_key = '<key>'", "key"),
    ("auth_token = 'a81f9c0e77d24b3e'", "auth_token = '<key>'", "key"),
    ("key_id = 'AKIAZ5XQ3RTY7UIO9PLK'", "key_id = '<key>'", "key"),
    (f"t = '{GHP}'", "t = '<key>'", "key"),
    ("t = 'github_pat_" + "A1b2" * 20 + "'", "t = '<key>'", "key"),
    ("t = 'xoxb-123456789012-abcdefABCDEF'", "t = '<key>'", "key"),
    ("t = 'AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'", "t = '<key>'", "key"),
    ("t = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'", "t = '<key>'", "key"),
    (f"t = '{JWT}'", "t = '<key>'", "key"),
    (f'PEM = """{PEM}"""', 'PEM = """<key>"""', "key"),
]


@pytest.mark.parametrize(("src", "expected", "kind"), PLANTED)
def test_planted_secret_is_replaced(src: str, expected: str, kind: str) -> None:
    out, counts = redact_pii(src)
    assert out == expected
    assert counts == {kind: 1}


NOT_SECRETS = [
    'password = ""',
    "password = None",
    'password = os.environ["DB_PASSWORD"]',
    "password = get_password()",
    'x = "<password>"',
    'password = "${DB_PASSWORD}"',
    'password = "{{ vault.pw }}"',
    'password = "********"',
    'password_label = "Enter your password"',
    'token_type = "bearer"',
    'TOKEN = "IDENTIFIER"',
    'key = "user_name"',
    '{"password": "Password"}',
    'api_key = "YOUR_API_KEY"',
    "server = '127.0.0.1'",
    "server = '0.0.0.0'",
    "lan = '192.168.1.10'",
    "docs = '203.0.113.5'",
    "dns = '8.8.8.8'",
    "__version__ = '1.2.3.4'",
    "release 10.0.19041.1",
    "oid = '1.3.6.1.4.1'",
    "local = '::1'",
    "std::vector<int> dead::beef;",
    "mail = 'someone@example.com'",
    "img = 'icon@2x.png'",
    "y = x@self.weight",
    "@property",
    "git clone git@github.com:org/repo.git",
]


@pytest.mark.parametrize("src", NOT_SECRETS)
def test_look_alike_is_kept(src: str) -> None:
    out, counts = redact_pii(src)
    assert out == src
    assert not counts


def test_unquoted_values_only_in_config_languages() -> None:
    yaml = "db:\n  password: hunter2x\n  token: ${TOKEN}\n  user: admin\n"
    out, counts = redact_pii(yaml, "YAML")
    assert out == "db:\n  password: <password>\n  token: ${TOKEN}\n  user: admin\n"
    assert counts == {"password": 1}
    code = "password = hunter2x\n"
    assert redact_pii(code, "Python") == (code, {})


def test_redacted_python_still_parses() -> None:
    planted = [s for s, _, _ in PLANTED if not s.startswith(("$", "if "))]
    src = "\n".join(planted) + "\n"
    ast.parse(src)
    out, counts = redact_pii(src, "Python")
    ast.parse(out)
    assert sum(counts.values()) == len(planted)


def test_throughput_on_code_without_secrets() -> None:
    chunk = (
        "def f(a, b):\n    key = compute_key(a)\n    tokens = tokenize(b)  # v1.2.3\n"
        "    return {k: v for k, v in zip(key, tokens)}, 'x@y', a[1:2]\n"
    )
    text = chunk * 20000
    t0 = time.perf_counter()
    out, _ = redact_pii(text, "Python")
    mb_s = len(text) / 1e6 / (time.perf_counter() - t0)
    assert out == text
    assert mb_s > 5, f"{mb_s:.1f} MB/s"
