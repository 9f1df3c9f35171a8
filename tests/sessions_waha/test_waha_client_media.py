"""download_media: only this client's WAHA gets the API key, and downloads are capped
(WAHA.md §6, §9.19)."""

from __future__ import annotations

import pytest
from responses import matchers

from sessions_waha.waha import (
    MediaFile,
    WahaClient,
    WahaMediaRefused,
    WahaMediaTooLarge,
    WahaNotFound,
)
from tests.sessions_waha.waha_fakes import API_KEY, BASE

JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 1000


def test_same_origin_media_is_downloaded_with_the_key(waha, client):
    url = f"{BASE}/api/files/default/3EB0A1B2C3D4E5F60718.jpeg"
    waha.get(
        url,
        body=JPEG,
        content_type="image/jpeg",
        match=[matchers.header_matcher({"X-Api-Key": API_KEY})],
    )
    media = client.download_media(url=url)
    assert media == MediaFile(content=JPEG, mimetype="image/jpeg", filename="3EB0A1B2C3D4E5F60718.jpeg")


def test_localhost_origin_reported_by_waha_is_rewritten_onto_base_url(waha, client):
    # WAHA builds media URLs from WAHA_BASE_URL, default http://localhost:3000 (WAHA.md §6).
    waha.get(f"{BASE}/api/files/default/AAAA.ogg", body=b"OggS", content_type="audio/ogg")
    media = client.download_media(url="http://localhost:3000/api/files/default/AAAA.ogg")
    assert media.content == b"OggS" and waha.calls[0].request.url.startswith(BASE + "/")


def test_base_url_with_a_path_prefix_keeps_it(waha):
    client = WahaClient("https://gw.test/waha/", API_KEY)
    waha.get("https://gw.test/waha/api/files/default/A.pdf", body=b"%PDF", content_type="application/pdf")
    assert client.download_media(url="https://waha.example/api/files/default/A.pdf").content == b"%PDF"


def test_relative_media_path_is_resolved_on_base_url(waha, client):
    waha.get(f"{BASE}/api/files/default/A.png", body=b"x", content_type="image/png")
    assert client.download_media(url="/api/files/default/A.png").content == b"x"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test/steal.jpg",
        f"{BASE}/api/server/environment",
        f"{BASE}/api/sessions",
        "http://evil.test/api/files/../server/environment",
        f"{BASE}/api/files/%2e%2e/server/environment",
        f"{BASE}/api/files/default%2F..%2F..%2Fserver",
        f"{BASE}/api/files/",
        "file:///etc/passwd",
        BASE.replace("http:", "ftp:", 1) + "/api/files/default/a.jpg",  # WAHA's own file, another scheme
    ],
)
def test_foreign_or_escaping_urls_are_refused_without_any_request(waha, client, url):
    with pytest.raises(WahaMediaRefused):
        client.download_media(url=url)
    assert len(waha.calls) == 0


def test_key_in_media_query_is_dropped(waha, client):
    waha.get(
        f"{BASE}/api/files/default/A.png",
        body=b"x",
        content_type="image/png",
        match=[matchers.query_param_matcher({"v": "1"})],
    )
    client.download_media(url=f"{BASE}/api/files/default/A.png?x-api-key=leaked&v=1")
    assert "leaked" not in waha.calls[0].request.url


def test_declared_size_over_cap_is_refused(waha, client):
    waha.get(
        f"{BASE}/api/files/default/big.mp4",
        body=b"x" * 2048,
        content_type="video/mp4",
        auto_calculate_content_length=True,
    )
    with pytest.raises(WahaMediaTooLarge) as caught:
        client.download_media(url=f"{BASE}/api/files/default/big.mp4", max_bytes=1024)
    # Refused on the Content-Length header, before reading the body.
    assert "2048 bytes" in caught.value.message and not caught.value.transient


def test_streamed_size_over_cap_is_refused(waha, client):
    # No Content-Length (chunked): the cap is enforced while streaming.
    waha.get(
        f"{BASE}/api/files/default/big.mp4",
        body=b"x" * (200 * 1024),
        content_type="video/mp4",
        auto_calculate_content_length=False,
    )
    with pytest.raises(WahaMediaTooLarge):
        client.download_media(url=f"{BASE}/api/files/default/big.mp4", max_bytes=100 * 1024)


def test_download_is_streamed(waha, client):
    waha.get(f"{BASE}/api/files/default/A.png", body=b"x", content_type="image/png")
    client.download_media(url=f"{BASE}/api/files/default/A.png")
    assert waha.calls[0].request.req_kwargs["stream"] is True


def test_file_exactly_at_cap_is_accepted(waha, client):
    waha.get(f"{BASE}/api/files/default/A.bin", body=b"x" * 1024)
    assert len(client.download_media(url=f"{BASE}/api/files/default/A.bin", max_bytes=1024).content) == 1024


def test_content_disposition_names_the_file(waha, client):
    waha.get(
        f"{BASE}/api/files/default/A.pdf",
        body=b"%PDF",
        content_type="application/pdf; charset=binary",
        headers={"Content-Disposition": 'attachment; filename="invoice 42.pdf"'},
    )
    media = client.download_media(url=f"{BASE}/api/files/default/A.pdf")
    assert (media.mimetype, media.filename) == ("application/pdf", "invoice 42.pdf")


def test_expired_media_is_not_found(waha, client):
    waha.get(f"{BASE}/api/files/default/gone.jpg", status=404, json={"error": {"code": 404}})
    with pytest.raises(WahaNotFound):
        client.download_media(url=f"{BASE}/api/files/default/gone.jpg")


def test_media_file_repr_omits_content():
    assert "\\x01" not in repr(MediaFile(content=JPEG, mimetype="image/jpeg", filename=None))
