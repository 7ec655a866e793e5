from opencook.data.ingest.decode import decode, is_binary, normalize_newlines


def test_binary_detection():
    assert is_binary(b"ELF\x00\x01\x02")
    assert is_binary(bytes(range(1, 9)) * 100)
    assert not is_binary(b"plain text\n\twith tabs\r\n")
    assert not is_binary(b"\x1b[31mred\x1b[0m ansi colours\n")
    assert not is_binary("utf-16 text".encode("utf-16"))
    assert not is_binary(b"")


def test_nul_after_sniff_window_is_not_binary():
    assert not is_binary(b"a" * 9000 + b"\x00")


def test_utf8_and_bom():
    assert decode("héllo\n".encode()) == ("héllo\n", "utf-8")
    assert decode(b"\xef\xbb\xbfx = 1\n") == ("x = 1\n", "utf-8-bom")


def test_latin1_falls_back_to_cp1252():
    text, enc = decode("# Größe: café\nx = '€'\n".encode("cp1252"))
    assert (text, enc) == ("# Größe: café\nx = '€'\n", "cp1252")


def test_legacy_cjk_is_not_decoded_as_cp1252():
    text, enc = decode(("# 中文注释\n" * 5).encode("gbk"))
    assert enc == "utf-8-replace"
    assert "\ufffd" in text


def test_utf16_with_bom():
    assert decode("print('hi')\r\n".encode("utf-16")) == ("print('hi')\n", "utf-16")


def test_newlines_normalised():
    assert decode(b"a\r\nb\rc\n") == ("a\nb\nc\n", "utf-8")
    s = "no carriage return"
    assert normalize_newlines(s) is s
