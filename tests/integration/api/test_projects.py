"""Projects: CRUD, pagination, sorting, search; the storyboard; renders' status fields."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .conftest import new_project, sign_up

STORYBOARD = {
    "title": "Tides",
    "settings": {"resolution": "480p", "target_duration_s": 10},
    "scenes": [{"narration": "Tides rise twice a day."}, {"narration": "The moon pulls."}],
}


def test_create_read_update_delete(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers, settings={"aspect": "9:16"})
    assert project["settings"]["aspect"] == "9:16" and project["has_storyboard"] is False
    url = f"/api/v1/projects/{project['id']}"
    patched = client.patch(
        url, json={"name": "Moon", "settings": {"voice": "joe"}}, headers=headers
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Moon"
    assert client.get(url, headers=headers).json()["name"] == "Moon"
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404


def test_pagination_sorting_and_search(client: TestClient) -> None:
    headers = sign_up(client)
    for name in ("delta", "alpha", "charlie", "bravo", "echo"):
        new_project(client, headers, name=name)
    page = client.get("/api/v1/projects?sort=name&limit=2&offset=2", headers=headers).json()
    assert [p["name"] for p in page["items"]] == ["charlie", "delta"] and page["total"] == 5
    newest = client.get("/api/v1/projects?sort=-created_at&limit=1", headers=headers).json()
    assert newest["items"][0]["name"] == "echo"
    found = client.get("/api/v1/projects?q=RAV", headers=headers).json()
    assert [p["name"] for p in found["items"]] == ["bravo"] and found["total"] == 1
    bad = client.get("/api/v1/projects?limit=1000", headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.limit"


def test_search_is_literal_and_totals_hold_past_the_end(client: TestClient) -> None:
    """`q` matches its characters literally (LIKE's `%`, `_` and the escape are not
    wildcards), and the total is right whether the page shows the end of the list or not."""
    headers = sign_up(client)
    for name in ("50% off", "500 off", "a_b", "axb", "x/y", "xy"):
        new_project(client, headers, name=name)
    for q, names in (("0%", ["50% off"]), ("a_", ["a_b"]), ("x/", ["x/y"])):
        found = client.get("/api/v1/projects", params={"q": q}, headers=headers).json()
        assert [p["name"] for p in found["items"]] == names and found["total"] == 1
    for limit, offset in ((2, 0), (6, 0), (4, 4), (2, 8)):
        page = client.get(
            "/api/v1/projects", params={"limit": limit, "offset": offset}, headers=headers
        ).json()
        assert page["total"] == 6 and len(page["items"]) == max(0, min(limit, 6 - offset))


def test_storyboard_round_trip(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    url = f"/api/v1/projects/{project['id']}/storyboard"
    assert client.get(url, headers=headers).status_code == 404
    saved = client.put(url, json=STORYBOARD, headers=headers)
    assert saved.status_code == 200
    read = client.get(url, headers=headers).json()
    assert [s["narration"] for s in read["scenes"]] == [
        "Tides rise twice a day.",
        "The moon pulls.",
    ]
    assert read["settings"]["resolution"] == "480p"
    project_now = client.get(f"/api/v1/projects/{project['id']}", headers=headers).json()
    assert project_now["has_storyboard"] and project_now["settings"]["resolution"] == "480p"
    # The listing reads its own columns: it must show what the project's page shows.
    assert client.get("/api/v1/projects", headers=headers).json()["items"] == [project_now]
    invalid = client.put(url, json={"scenes": []}, headers=headers)
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "scenes"
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404
    listed = client.get("/api/v1/projects", headers=headers).json()["items"]
    assert [p["has_storyboard"] for p in listed] == [False]  # cleared: stored as JSON null


def test_render_status_cancel_and_retry(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    submit = f"/api/v1/projects/{project['id']}/renders"
    first, second = (client.post(submit, headers=headers).json() for _ in range(2))
    assert (first["status"], first["queue_position"]) == ("queued", 1)
    assert second["queue_position"] == 2 and first["links"] is None
    assert client.get(f"/api/v1/renders/{first['id']}/video", headers=headers).status_code == 409

    canceled = client.post(f"/api/v1/renders/{first['id']}/cancel", headers=headers)
    assert canceled.status_code == 202 and canceled.json()["status"] == "canceled"
    assert client.post(f"/api/v1/renders/{first['id']}/cancel", headers=headers).status_code == 409
    assert (
        client.get(f"/api/v1/renders/{second['id']}", headers=headers).json()["queue_position"] == 1
    )

    assert client.post(f"/api/v1/renders/{second['id']}/retry", headers=headers).status_code == 409
    retried = client.post(f"/api/v1/renders/{first['id']}/retry", headers=headers)
    assert retried.status_code == 202 and retried.json()["id"] != first["id"]
    listing = client.get("/api/v1/renders?status=queued", headers=headers).json()
    assert {r["id"] for r in listing["items"]} == {second["id"], retried.json()["id"]}
    by_project = client.get(f"/api/v1/renders?project_id={project['id']}", headers=headers)
    assert by_project.json()["total"] == 3


def test_a_project_without_prompt_or_storyboard_cannot_render(client: TestClient) -> None:
    headers = sign_up(client)
    empty = new_project(client, headers, prompt="")
    response = client.post(f"/api/v1/projects/{empty['id']}/renders", headers=headers)
    assert response.status_code == 422 and "no prompt or storyboard" in response.json()["detail"]


def test_deleting_a_project_cancels_and_deletes_its_renders(client: TestClient) -> None:
    headers = sign_up(client)
    project = new_project(client, headers)
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers).json()
    assert client.delete(f"/api/v1/projects/{project['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/renders/{render['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/renders", headers=headers).json()["total"] == 0


def test_settings_patches_merge_and_a_storyboard_without_settings_keeps_them(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    project = new_project(client, headers, settings={"target_duration_s": 45, "aspect": "9:16"})
    url = f"/api/v1/projects/{project['id']}"
    patched = client.patch(
        url, json={"settings": {"resolution": "480p", "music": {"volume": 0.1}}}, headers=headers
    ).json()["settings"]
    assert (patched["resolution"], patched["target_duration_s"], patched["aspect"]) == (
        "480p", 45, "9:16",
    )  # fmt: skip
    assert patched["music"]["volume"] == 0.1 and patched["music"]["enabled"] is True
    bad = client.patch(url, json={"settings": {"resolution": "8k"}}, headers=headers)
    assert bad.status_code == 422 and "resolution" in bad.json()["detail"]
    client.put(f"{url}/storyboard", json={"scenes": [{"narration": "Hi."}]}, headers=headers)
    kept = client.get(url, headers=headers).json()["settings"]
    assert (kept["resolution"], kept["target_duration_s"]) == ("480p", 45)
    chosen = client.patch(url, json={"template_id": "news-brief"}, headers=headers).json()
    assert chosen["template_id"] == "news-brief"  # applied: see test_templates.py
    unknown = client.patch(url, json={"template_id": "news"}, headers=headers)
    assert unknown.status_code == 404
    assert (
        client.patch(url, json={"template_id": None}, headers=headers).json()["template_id"] is None
    )


def test_the_listing_shows_each_project_s_settings_as_they_are_now(client: TestClient) -> None:
    """Listings keep stored settings parsed between reads: a change shows at once, and two
    projects with the same settings each show them."""
    headers = sign_up(client)
    first = new_project(client, headers, settings={"aspect": "9:16"})
    second = new_project(client, headers, settings={"aspect": "9:16"})

    def listed() -> dict[str, dict[str, Any]]:
        page = client.get("/api/v1/projects", headers=headers).json()
        return {item["id"]: item["settings"] for item in page["items"]}

    assert [s["aspect"] for s in listed().values()] == ["9:16", "9:16"]
    url = f"/api/v1/projects/{first['id']}"
    client.patch(url, json={"settings": {"aspect": "1:1", "fps": 25}}, headers=headers)
    now = listed()
    assert (now[first["id"]]["aspect"], now[first["id"]]["fps"]) == ("1:1", 25)
    assert (now[second["id"]]["aspect"], now[second["id"]]["fps"]) == ("9:16", 30)


def test_an_idempotency_key_cannot_be_reused_for_another_project(client: TestClient) -> None:
    headers = sign_up(client) | {"Idempotency-Key": "k1"}
    first, second = new_project(client, headers), new_project(client, headers)
    assert (
        client.post(f"/api/v1/projects/{first['id']}/renders", headers=headers).status_code == 202
    )
    reused = client.post(f"/api/v1/projects/{second['id']}/renders", headers=headers)
    assert reused.status_code == 409


def test_malformed_json_is_a_problem_about_the_body(client: TestClient) -> None:
    headers = sign_up(client) | {"Content-Type": "application/json"}
    response = client.post("/api/v1/projects", content=b'{"name":', headers=headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body"
