//! Groups: members with value, $ref and type, never an invented display; User.groups computed from direct
//! memberships; nested groups as members; membership cleanup on delete.

use serde_json::json;

use super::{on_both_stores, Backend, Scim};

on_both_stores!(
    members_carry_value_ref_and_type_and_no_invented_display,
    user_groups_are_computed_and_read_only,
    groups_can_contain_groups,
    group_display_names_and_external_ids_are_searchable,
    patch_add_is_idempotent_and_remove_of_a_non_member_is_harmless,
    a_list_shows_every_users_groups_even_beyond_one_read,
);

async fn members_carry_value_ref_and_type_and_no_invented_display(b: Backend) {
    let s = Scim::start(b).await;
    let u = s.user("m@example.com").await;
    let g = s.group("Team", &[&u]).await;
    let a = s.get(&format!("/Groups/{g}")).await;
    let m = &a.expect(200)["members"][0];
    assert_eq!(m["value"], u.as_str());
    assert_eq!(m["type"], "User");
    assert!(
        m.get("display").is_none(),
        "a member's display is never invented: {m}"
    );
    assert!(m["$ref"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/scim/v2/Users/{u}")));
    // A display the client sent is not echoed back either: what it reads is what the schema
    // says is returned (value, $ref, type), and the same for PATCH-added members.
    let g2 = s
        .post(
            "/Groups",
            &json!({"displayName": "Sent", "members": [{"value": u, "display": "Someone"}]}),
        )
        .await;
    let g2 = g2.expect(201)["id"].as_str().unwrap().to_owned();
    s.patch(
        &format!("/Groups/{g}"),
        &json!({"Operations": [{"op": "add", "path": "members",
                                "value": [{"value": u, "display": "Again"}]}]}),
    )
    .await;
    for group in [&g, &g2] {
        let a = s.get(&format!("/Groups/{group}")).await;
        let members = a.expect(200)["members"].as_array().unwrap().clone();
        assert_eq!(members.len(), 1);
        assert!(members[0].get("display").is_none(), "{members:?}");
    }
    // User.groups[].display stays computed from the group's displayName.
    let a = s.get(&format!("/Users/{u}")).await;
    let names: Vec<&str> = a.expect(200)["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Team") && names.contains(&"Sent"),
        "{names:?}"
    );
    // /Schemas describes it.
    let schema = s
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")
        .await;
    let members = schema.expect(200)["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "members")
        .unwrap()
        .clone();
    let display = members["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "display")
        .unwrap()
        .clone();
    assert_eq!(display["returned"], "never", "{display}");
}

async fn user_groups_are_computed_and_read_only(b: Backend) {
    let s = Scim::start(b).await;
    let u = s.user("member@example.com").await;
    let g1 = s.group("One", &[&u]).await;
    let g2 = s.group("Two", &[&u]).await;
    let a = s.get(&format!("/Users/{u}")).await;
    let mut ids: Vec<&str> = a.expect(200)["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![g1.as_str(), g2.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(a.body["groups"][0]["type"], "direct");
    // Writing groups on a user is refused by PATCH (read-only) and ignored by PUT.
    let p = s
        .patch(
            &format!("/Users/{u}"),
            &json!({"Operations": [{"op": "add", "path": "groups", "value": [{"value": g1}]}]}),
        )
        .await;
    p.expect_error(400, Some("mutability"));
    let excluded = s
        .get(&format!("/Users/{u}?excludedAttributes=groups"))
        .await;
    assert!(excluded.expect(200).get("groups").is_none());
}

async fn groups_can_contain_groups(b: Backend) {
    let s = Scim::start(b).await;
    let inner = s.group("Inner", &[]).await;
    let outer = s.group("Outer", &[&inner]).await;
    let a = s.get(&format!("/Groups/{outer}")).await;
    assert_eq!(a.expect(200)["members"][0]["type"], "Group");
    s.patch(
        &format!("/Groups/{outer}"),
        &json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": outer}]}]}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    s.delete(&format!("/Groups/{inner}")).await.expect(204);
    assert!(s.member_ids(&outer).await.is_empty());
}

async fn group_display_names_and_external_ids_are_searchable(b: Backend) {
    let s = Scim::start(b).await;
    let g = s
        .post(
            "/Groups",
            &json!({"displayName": "Sales EMEA", "externalId": "grp-42"}),
        )
        .await;
    let id = g.expect(201)["id"].as_str().unwrap().to_owned();
    for f in [
        r#"displayName eq "sales emea""#,
        r#"externalId eq "grp-42""#,
        r#"displayName sw "Sales""#,
    ] {
        let a = s.get(&format!("/Groups?filter={}", super::enc(f))).await;
        assert_eq!(a.expect(200)["totalResults"], 1, "{f}");
        assert_eq!(a.body["Resources"][0]["id"], id.as_str());
    }
    // Renaming moves the index entry.
    s.patch(
        &format!("/Groups/{id}"),
        &json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Sales APAC"}]}),
    )
    .await
    .expect(204);
    let old = s
        .get(&format!(
            "/Groups?filter={}",
            super::enc(r#"displayName eq "Sales EMEA""#)
        ))
        .await;
    assert_eq!(old.expect(200)["totalResults"], 0);
    let new = s
        .get(&format!(
            "/Groups?filter={}",
            super::enc(r#"displayName eq "Sales APAC""#)
        ))
        .await;
    assert_eq!(new.expect(200)["totalResults"], 1);
}

async fn patch_add_is_idempotent_and_remove_of_a_non_member_is_harmless(b: Backend) {
    let s = Scim::start(b).await;
    let (u1, u2) = (
        s.user("i1@example.com").await,
        s.user("i2@example.com").await,
    );
    let g = s.group("Idem", &[&u1]).await;
    for _ in 0..2 {
        s.patch(
            &format!("/Groups/{g}"),
            &json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": u1}]}]}),
        )
        .await
        .expect(204);
    }
    s.patch(
        &format!("/Groups/{g}"),
        &json!({"Operations": [{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]}),
    )
    .await
    .expect(204);
    assert_eq!(s.member_ids(&g).await, vec![u1]);
}

/// A list reads its users' groups together (one store read for the page); a user in more
/// groups than that read returns (100) still shows all of them, in every kind of list.
async fn a_list_shows_every_users_groups_even_beyond_one_read(b: Backend) {
    let s = Scim::start(b).await;
    let many = s.user("many@example.com").await;
    let one = s.user("one@example.com").await;
    let none = s.user("none@example.com").await;
    let mut want_many = Vec::new();
    for i in 0..105 {
        let members: &[&str] = if i == 0 { &[&many, &one] } else { &[&many] };
        want_many.push(s.group(&format!("G{i:03}"), members).await);
    }
    let shared = want_many[0].clone();
    want_many.sort();
    // (id, group ids, group display names) of each user a list shows, ids and names sorted.
    let shown = |resources: &serde_json::Value| -> Vec<(String, Vec<String>, Vec<String>)> {
        resources
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let groups = r["groups"].as_array().cloned().unwrap_or_default();
                let mut ids: Vec<String> = groups
                    .iter()
                    .map(|g| g["value"].as_str().unwrap().to_owned())
                    .collect();
                ids.sort();
                let mut names: Vec<String> = groups
                    .iter()
                    .map(|g| g["display"].as_str().unwrap().to_owned())
                    .collect();
                names.sort();
                (r["id"].as_str().unwrap().to_owned(), ids, names)
            })
            .collect()
    };
    let listed = s.get("/Users?count=10").await;
    let rows = shown(&listed.expect(200)["Resources"]);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let searched = s
        .post(
            "/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": "userName ew \"@example.com\""}),
        )
        .await;
    let found = shown(&searched.expect(200)["Resources"]);
    for rows in [&rows, &found] {
        let mut ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        ids.sort();
        let mut all = vec![many.as_str(), one.as_str(), none.as_str()];
        all.sort();
        assert_eq!(ids, all, "each user once");
        for (id, groups, names) in rows.iter() {
            if *id == many {
                assert_eq!(groups, &want_many, "all 105 groups of one user");
                assert_eq!(names.len(), 105);
                assert_eq!(names[0], "G000");
                assert_eq!(names[104], "G104");
            } else if *id == one {
                assert_eq!(
                    groups,
                    std::slice::from_ref(&shared),
                    "the one shared group"
                );
                assert_eq!(names, &["G000"]);
            } else {
                assert!(groups.is_empty(), "no groups: {groups:?}");
            }
        }
    }
}
