"""traceexec.remote.httpspan: the OTel HTTP client attributes of an http step."""

import pytest

from traceexec.remote import httpspan


@pytest.mark.parametrize("url,shown", [
    ("https://h/p?a=1", "https://h/p?a=1"),
    ("https://u:p%40ss@h:8443/p", "https://REDACTED:REDACTED@h:8443/p"),
    ("https://u@h/p", "https://REDACTED:REDACTED@h/p"),
    ("https://h/p?X-Goog-Signature=abc&AWSAccessKeyId=k&Signature=s&sig=t&n=1",
     "https://h/p?X-Goog-Signature=REDACTED&AWSAccessKeyId=REDACTED&Signature=REDACTED&"
     "sig=REDACTED&n=1"),
    ("http://h/?access_token=x&client_secret=y&password=z&page=2&flag",
     "http://h/?access_token=REDACTED&client_secret=REDACTED&password=REDACTED&page=2&flag"),
    ("http://h/?q=ghp_0123456789abcdefghij", "http://h/?q=REDACTED"),
    ("http://h/?public_key=abc&id=7", "http://h/?public_key=abc&id=7"),
])
def test_url_full_is_redacted_as_the_conventions_ask(url, shown):
    assert httpspan.redacted_url(url) == shown


@pytest.mark.parametrize("method,url,expected", [
    ("post", "http://h/x", {"http.request.method": "POST", "url.full": "http://h/x",
                            "server.address": "h", "server.port": 80}),
    ("PURGE", "https://[::1]:8443/", {
        "http.request.method": "_OTHER", "http.request.method_original": "PURGE",
        "url.full": "https://[::1]:8443/", "server.address": "::1", "server.port": 8443}),
    ("GET", "https://h:99999/", {"http.request.method": "GET", "url.full": "https://h:99999/",
                                 "server.address": "h"}),
])
def test_request_attributes(method, url, expected):
    assert httpspan.request_attributes(method, url) == expected


def test_userinfo_is_taken_off_the_url_and_decoded():
    assert httpspan.split_userinfo("http://a%3Ab:c%40d@h:1/p?q") == ("http://h:1/p?q",
                                                                     ("a:b", "c@d"))
    assert httpspan.split_userinfo("http://h/p") == ("http://h/p", None)


def test_a_report_is_read_once_and_only_its_known_scalar_keys(tmp_path):
    path = str(tmp_path / "r")
    httpspan.write_report(path, {"http.response.status_code": 200, "url.full": "http://h/",
                                 "other": "x", "server.port": True, "error.type": ["a"]})
    assert httpspan.read_report(path) == {"http.response.status_code": 200,
                                          "url.full": "http://h/"}
    assert httpspan.read_report(path) == {}
    (tmp_path / "r").write_text("{" * 100)
    assert httpspan.read_report(path) == {}
