//! Queries: the filter grammar end to end, sorting, stable paging, projection, `.search`.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::{enc, on_both_stores, Backend, Scim};

on_both_stores!(
    filters_with_operators_precedence_and_dates,
    paging_is_stable_with_no_gap_or_duplicate,
    sorting_ascending_and_descending,
    attributes_and_excluded_attributes,
    search_by_post_per_type_and_at_the_root,
);

async fn seed(s: &Scim) {
    for (name, title, active) in [
        ("alice@example.com", "Engineer", true),
        ("bob@example.com", "Manager", false),
        ("carol@example.org", "Engineer", true),
        ("dave@example.org", "Director", true),
    ] {
        s.post("/Users", &json!({"userName": name, "title": title, "active": active, "emails": [{"value": name, "type": "work"}]}))
            .await
            .expect(201);
    }
}

async fn count(s: &Scim, filter: &str) -> u64 {
    let a = s.get(&format!("/Users?filter={}", enc(filter))).await;
    a.expect(200)["totalResults"].as_u64().unwrap()
}

async fn filters_with_operators_precedence_and_dates(b: Backend) {
    let s = Scim::start(b).await;
    seed(&s).await;
    let cases: &[(&str, u64)] = &[
        (r#"userName eq "ALICE@example.com""#, 1),
        (r#"userName ne "alice@example.com""#, 3),
        (r#"userName co "example.org""#, 2),
        (r#"userName sw "b""#, 1),
        (r#"userName ew ".COM""#, 2),
        ("title pr", 4),
        ("nickName pr", 0),
        ("active eq true", 3),
        (r#"title eq "Engineer" and active eq true"#, 2),
        (
            r#"title eq "Director" or title eq "Manager" and active eq true"#,
            1,
        ),
        (
            r#"(title eq "Director" or title eq "Manager") and active eq false"#,
            1,
        ),
        (r#"not (title eq "Engineer")"#, 2),
        (r#"emails[type eq "work" and value co "example.org"]"#, 2),
        (r#"emails.value ew "org""#, 2),
        (r#"USERNAME Eq "bob@example.com""#, 1),
        (r#"meta.created gt "2000-01-01T00:00:00Z""#, 4),
        (r#"meta.lastModified lt "2000-01-01T00:00:00Z""#, 0),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "dave@example.org""#,
            1,
        ),
    ];
    for (f, want) in cases {
        assert_eq!(count(&s, f).await, *want, "{f}");
    }
    for bad in [
        "userName eq",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        "active gt true",
        "\"a\" eq userName",
    ] {
        let a = s.get(&format!("/Users?filter={}", enc(bad))).await;
        a.expect_error(400, Some("invalidFilter"));
    }
}

async fn paging_is_stable_with_no_gap_or_duplicate(b: Backend) {
    let s = Scim::start(b).await;
    let bulk: Vec<Value> = (0..45)
        .map(|i| json!({"method": "POST", "bulkId": format!("b{i}"), "path": "/Users", "data": {"userName": format!("page{i:02}@example.com")}}))
        .collect();
    s.post("/Bulk", &json!({"Operations": bulk}))
        .await
        .expect(200);
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let a = s.get(&format!("/Users?startIndex={start}&count=10")).await;
        let body = a.expect(200);
        assert_eq!(body["totalResults"], 45);
        assert_eq!(body["startIndex"], start);
        let page = body["Resources"].as_array().unwrap();
        assert_eq!(body["itemsPerPage"], page.len());
        if page.is_empty() {
            break;
        }
        seen.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        start += 10;
    }
    assert_eq!(seen.len(), 45);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 45);
    // Out-of-range values are clamped as RFC 7644 §3.4.2.4 says.
    let a = s.get("/Users?startIndex=0&count=-5").await;
    assert_eq!(a.expect(200)["startIndex"], 1);
    assert_eq!(a.body["Resources"], json!([]));
    assert_eq!(a.body["totalResults"], 45);
    s.get("/Users?count=abc")
        .await
        .expect_error(400, Some("invalidValue"));
}

async fn sorting_ascending_and_descending(b: Backend) {
    let s = Scim::start(b).await;
    seed(&s).await;
    let names = |v: &Value| -> Vec<String> {
        v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let asc = s.get("/Users?sortBy=userName").await;
    assert_eq!(
        names(asc.expect(200)),
        [
            "alice@example.com",
            "bob@example.com",
            "carol@example.org",
            "dave@example.org"
        ]
    );
    let desc = s
        .get("/Users?sortBy=userName&sortOrder=descending&count=2")
        .await;
    assert_eq!(
        names(desc.expect(200)),
        ["dave@example.org", "carol@example.org"]
    );
    assert_eq!(desc.body["totalResults"], 4);
    let by_title = s
        .get(&format!(
            "/Users?sortBy=title&filter={}",
            enc("active eq true")
        ))
        .await;
    assert_eq!(names(by_title.expect(200))[0], "dave@example.org");
}

async fn attributes_and_excluded_attributes(b: Backend) {
    let s = Scim::start(b).await;
    seed(&s).await;
    let a = s
        .get("/Users?attributes=userName,emails.value&count=1")
        .await;
    let r = &a.expect(200)["Resources"][0];
    assert!(r["id"].is_string(), "id is always returned");
    assert!(r["userName"].is_string());
    assert!(r["emails"][0]["value"].is_string());
    assert!(r["emails"][0].get("type").is_none());
    assert!(r.get("title").is_none() && r.get("active").is_none());
    let e = s
        .get("/Users?excludedAttributes=emails,title&count=1")
        .await;
    let r = &e.expect(200)["Resources"][0];
    assert!(r.get("emails").is_none() && r.get("title").is_none());
    assert!(r["userName"].is_string() && r["id"].is_string());
}

async fn search_by_post_per_type_and_at_the_root(b: Backend) {
    let s = Scim::start(b).await;
    seed(&s).await;
    s.group("Engineers", &[]).await;
    let req = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "title eq \"Engineer\"", "attributes": ["userName"], "startIndex": 1, "count": 10});
    let a = s.post("/Users/.search", &req).await;
    assert_eq!(a.expect(200)["totalResults"], 2);
    assert!(a.body["Resources"][0].get("title").is_none());
    let root = s
        .post(
            "/.search",
            &json!({"filter": "userName sw \"a\" or displayName eq \"Engineers\""}),
        )
        .await;
    assert_eq!(root.expect(200)["totalResults"], 2);
    s.get("/Users/.search").await.expect_error(405, None);
}
