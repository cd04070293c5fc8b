//! Provisioning events: what one committed change did, as the JSON the feed and webhooks
//! carry (issue 12).
//!
//! Pure: the engine says what it is about to commit; this module names the change, finds the
//! attributes that differ and encodes each event. The store numbers the entries when the batch
//! commits, so an entry is kept without its `seq`, which [`with_seq`] puts in front when it is
//! read. Documents are compared attribute by attribute through their serialisations
//! ([`Before`]), so a PATCH that changes a document in place keeps no copy of the old tree.

use serde::{ser::SerializeMap, Serialize, Serializer};
use serde_json::{value::RawValue, Map, Value};

use super::{quirk::Quirks, schema::ResourceKind};

/// The log every event goes to: one sequence for the whole directory.
pub const LOG: &str = "scim.events";
/// The most member ids one `group.members.*` event carries; larger changes are split.
pub const MAX_MEMBERS_PER_EVENT: usize = 1_000;

/// How much of a resource an event carries (`OP_EVENTS_DATA`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataMode {
    /// `data` (the resource after the change) and `previous` (the old values).
    #[default]
    Full,
    /// Ids, types and attribute names only: no personal data in the log.
    Ids,
}

impl DataMode {
    /// Parses `full` or `ids`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "full" => Some(Self::Full),
            "ids" => Some(Self::Ids),
            _ => None,
        }
    }

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Ids => "ids",
        }
    }
}

/// Who made a change: the token's label (never the token) and the client's `User-Agent`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The label of the bearer token that was presented.
    pub token: String,
    /// The `User-Agent` header, when sent.
    #[serde(rename = "userAgent", skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// Every event type, as receivers filter on them.
pub const TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deactivated",
    "user.reactivated",
    "user.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.members.added",
    "group.members.removed",
    "guard.released",
];

/// What happened to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// It was created.
    Created,
    /// Its attributes changed.
    Updated,
    /// It was deleted.
    Deleted,
    /// Members joined it (groups).
    MembersAdded,
    /// Members left it (groups).
    MembersRemoved,
}

/// The event type of a change. A user whose `active` goes from true (or unset) to false is
/// `user.deactivated`, back again `user.reactivated`, whatever else changed with it: one event
/// per change, not also a `user.updated`.
pub fn event_type(
    kind: ResourceKind,
    change: Change,
    active: Option<(bool, bool)>,
) -> &'static str {
    match (kind, change) {
        (ResourceKind::User, Change::Created) => "user.created",
        (ResourceKind::User, Change::Updated) => match active {
            Some((true, false)) => "user.deactivated",
            Some((false, true)) => "user.reactivated",
            _ => "user.updated",
        },
        (ResourceKind::User, Change::Deleted) => "user.deleted",
        (ResourceKind::Group, Change::Created) => "group.created",
        (ResourceKind::Group, Change::Updated) => "group.updated",
        (ResourceKind::Group, Change::Deleted) => "group.deleted",
        (_, Change::MembersAdded) => "group.members.added",
        (_, Change::MembersRemoved) => "group.members.removed",
    }
}

/// Whether a user document is active: `active` unset counts as active.
pub fn is_active(doc: &Value) -> bool {
    doc.get("active") != Some(&Value::Bool(false))
}

/// A document's attributes, each serialised, taken before the document changes: enough to tell
/// afterwards whether it changed at all, which attributes did, and what they were.
#[derive(Debug, Default)]
pub struct Before(Vec<(String, Box<RawValue>)>);

/// The attributes that differ between two versions of a document.
#[derive(Debug, Default)]
pub struct Diff {
    /// Their paths: top-level names (`displayName`), sub-attributes of a singular complex
    /// attribute (`name.givenName`), and extension attributes by their full URN path
    /// (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`).
    pub changed: Vec<String>,
    /// The old value of each changed path (`null` where it was unset), in the same order;
    /// empty for a created resource, which had none ([`Diff::created`]).
    pub previous: Vec<Box<RawValue>>,
}

fn raw(value: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("a JSON value always serialises")
}

fn null() -> Box<RawValue> {
    raw(&Value::Null)
}

/// Whether two serialisations are of equal values: equal values serialise to the same length;
/// the same length with other bytes is a reordering or a same-size edit, told apart by decoding
/// (rare, and only then).
fn same(old: &RawValue, new: &RawValue) -> bool {
    let (a, b) = (old.get(), new.get());
    if a.len() != b.len() {
        return false;
    }
    a == b || serde_json::from_str::<Value>(a).ok() == serde_json::from_str::<Value>(b).ok()
}

impl Diff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }

    /// What creating `doc` changed: every path it sets, named as [`Before::compare`] names
    /// them, and no `previous` (nothing was there), so a create serialises no attribute twice.
    pub fn created(doc: &Value) -> Self {
        let mut out = Diff::default();
        let Value::Object(map) = doc else {
            return out;
        };
        for (key, value) in map.iter().filter(|(k, _)| *k != "schemas") {
            match value.as_object() {
                Some(subs) => {
                    let separator = if key.starts_with("urn:") { ':' } else { '.' };
                    out.changed
                        .extend(subs.keys().map(|sub| format!("{key}{separator}{sub}")));
                }
                None => out.changed.push(key.clone()),
            }
        }
        out
    }
}

impl Before {
    /// The attributes of `doc` (nothing for a document that is not an object).
    pub fn of(doc: &Value) -> Self {
        match doc {
            Value::Object(map) => Self(map.iter().map(|(k, v)| (k.clone(), raw(v))).collect()),
            _ => Self::default(),
        }
    }

    /// Whether `doc` equals the document this was taken of, and the attributes that differ
    /// (`schemas` counts for the first, not the second): one serialisation of each attribute.
    pub fn compare(&self, doc: &Value) -> (bool, Diff) {
        let empty = Map::new();
        let new = doc.as_object().unwrap_or(&empty);
        let mut equal = new.len() == self.0.len();
        let mut out = Diff::default();
        for (key, old) in &self.0 {
            let new_value = new.get(key);
            if new_value.is_some_and(|v| same(old, &raw(v))) {
                continue;
            }
            equal = false;
            if key != "schemas" {
                changed(&mut out, key, Some(old), new_value);
            }
        }
        for (key, v) in new {
            if !self.0.iter().any(|(k, _)| k == key) {
                equal = false;
                if key != "schemas" {
                    changed(&mut out, key, None, Some(v));
                }
            }
        }
        (equal, out)
    }

    /// The attributes of `doc` that differ from the document this was taken of.
    pub fn diff(&self, doc: &Value) -> Diff {
        self.compare(doc).1
    }
}

/// Records that attribute `key` differs: a singular complex attribute (or an extension) by
/// its sub-attributes, anything else whole.
fn changed(out: &mut Diff, key: &str, old: Option<&RawValue>, new: Option<&Value>) {
    let old_map = old
        .filter(|o| o.get().starts_with('{'))
        .and_then(|o| serde_json::from_str::<Map<String, Value>>(o.get()).ok());
    let new_map = new.and_then(Value::as_object);
    if old_map.is_none() && new_map.is_none() {
        out.changed.push(key.to_owned());
        out.previous.push(old.map_or_else(null, RawValue::to_owned));
        return;
    }
    let empty = Map::new();
    let (old_map, new_map) = (
        old_map.as_ref().unwrap_or(&empty),
        new_map.unwrap_or(&empty),
    );
    let separator = if key.starts_with("urn:") { ':' } else { '.' };
    let path = |sub: &str| format!("{key}{separator}{sub}");
    for (sub, o) in old_map {
        if new_map.get(sub) != Some(o) {
            out.changed.push(path(sub));
            out.previous.push(raw(o));
        }
    }
    for sub in new_map.keys() {
        if !old_map.contains_key(sub) {
            out.changed.push(path(sub));
            out.previous.push(null());
        }
    }
}

/// The resource an event is about.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// User or Group.
    pub kind: ResourceKind,
    /// Its id.
    pub id: &'a str,
    /// Its version after the change (for a deletion, the last version it had).
    pub version: u64,
}

/// One event, ready to encode.
#[derive(Debug)]
pub struct Event<'a> {
    /// The event type (see [`event_type`]).
    pub kind: &'static str,
    /// When the change was made (RFC 3339).
    pub time: &'a str,
    /// The resource.
    pub subject: Subject<'a>,
    /// The changed attributes (empty for member events).
    pub diff: &'a Diff,
    /// The member ids, for `group.members.*`.
    pub members: Option<&'a [String]>,
    /// The identity-provider quirks applied to the request that made the change.
    pub normalized: Quirks,
    /// The resource after the change, as `GET` shows it without the computed membership
    /// attributes (`None` for deletions and in [`DataMode::Ids`]).
    pub data: Option<&'a RawValue>,
}

/// The changed paths with their old values, as one JSON object.
struct Previous<'a>(&'a Diff);

impl Serialize for Previous<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.changed.len()))?;
        for (path, old) in self.0.changed.iter().zip(&self.0.previous) {
            map.serialize_entry(path, old)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Resource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    version: u64,
}

#[derive(Serialize)]
struct Wire<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    time: &'a str,
    resource: Resource<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<&'a [String]>,
    changed: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<Previous<'a>>,
    actor: &'a Actor,
    normalized: Quirks,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
}

/// The stored form of `event`: its JSON without `seq`, with a new unique `id`.
pub fn encode(event: &Event<'_>, actor: &Actor, mode: DataMode) -> Vec<u8> {
    let full = mode == DataMode::Full;
    let wire = Wire {
        id: uuid::Uuid::new_v4().to_string(),
        kind: event.kind,
        time: event.time,
        resource: Resource {
            kind: event.subject.kind.resource_type().name,
            id: event.subject.id,
            version: event.subject.version,
        },
        members: event.members,
        changed: &event.diff.changed,
        previous: (full && event.members.is_none() && !event.diff.previous.is_empty())
            .then_some(Previous(event.diff)),
        actor,
        normalized: event.normalized,
        data: event.data.filter(|_| full),
    };
    serde_json::to_vec(&wire).expect("an event always serialises")
}

/// An event as the feed and webhooks show it: `seq` first, then the stored JSON.
pub fn with_seq(seq: u64, entry: &[u8]) -> Vec<u8> {
    let rest = entry.strip_prefix(b"{").unwrap_or(entry);
    let mut out = Vec::with_capacity(entry.len() + 24);
    out.extend_from_slice(format!("{{\"seq\":{seq}").as_bytes());
    if rest != b"}" {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    out
}

/// `ids` split into events of at most [`MAX_MEMBERS_PER_EVENT`].
pub fn member_chunks(ids: &[String]) -> impl Iterator<Item = &[String]> {
    ids.chunks(MAX_MEMBERS_PER_EVENT)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn previous(d: &Diff) -> Value {
        serde_json::from_str(&serde_json::to_string(&Previous(d)).unwrap()).unwrap()
    }

    #[test]
    fn a_diff_names_changed_paths_with_their_old_values() {
        let old = json!({
            "schemas": ["s"], "userName": "ann", "active": true,
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "a@example.com"}],
            ENTERPRISE: {"department": "R&D"}
        });
        let new = json!({
            "schemas": ["s", "t"], "userName": "ann", "active": false,
            "name": {"givenName": "Anne", "familyName": "Lee"},
            "emails": [{"value": "b@example.com"}],
            "title": "CTO",
            ENTERPRISE: {"department": "R&D", "manager": {"value": "m1"}}
        });
        let d = Before::of(&old).diff(&new);
        assert_eq!(
            d.changed,
            [
                "active",
                "name.givenName",
                "emails",
                &format!("{ENTERPRISE}:manager"),
                "title"
            ]
        );
        assert_eq!(
            previous(&d),
            json!({"active": true, "name.givenName": "Ann", "emails": [{"value": "a@example.com"}],
                   format!("{ENTERPRISE}:manager"): null, "title": null})
        );
        assert!(!Before::of(&old).compare(&new).0);
    }

    #[test]
    fn equal_documents_in_another_order_match_and_differ_in_nothing() {
        let old = json!({"userName": "ann", "name": {"givenName": "Ann", "familyName": "Lee"}});
        let reordered =
            json!({"name": {"familyName": "Lee", "givenName": "Ann"}, "userName": "ann"});
        let before = Before::of(&old);
        let matches = |doc: &Value| before.compare(doc).0;
        assert!(matches(&reordered));
        assert!(before.diff(&reordered).changed.is_empty());
        // A same-length edit, a longer one, an attribute removed.
        assert!(!matches(
            &json!({"userName": "bob", "name": {"givenName": "Ann", "familyName": "Lee"}})
        ));
        assert!(!matches(
            &json!({"userName": "ann", "name": {"givenName": "Anne", "familyName": "Lee"}})
        ));
        assert!(!matches(&json!({"userName": "ann"})));
        let removed = before.diff(&json!({"userName": "ann"}));
        assert_eq!(removed.changed, ["name.givenName", "name.familyName"]);
    }

    #[test]
    fn a_created_resource_changed_every_path_it_sets_and_had_no_previous() {
        let doc = json!({"schemas": ["s"], "displayName": "Ops", "name": {"givenName": "A"},
                         "emails": [{"value": "a@x"}], "urn:x:Ext": {"dept": "R"}});
        let d = Diff::created(&doc);
        assert_eq!(
            d.changed,
            ["displayName", "name.givenName", "emails", "urn:x:Ext:dept"]
        );
        assert!(d.previous.is_empty());
        // The same paths as comparing with an empty document.
        assert_eq!(Before::of(&json!({})).diff(&doc).changed, d.changed);
    }

    #[test]
    fn deactivation_and_reactivation_are_their_own_types() {
        let user = |a| event_type(ResourceKind::User, Change::Updated, a);
        assert_eq!(user(Some((true, false))), "user.deactivated");
        assert_eq!(user(Some((false, true))), "user.reactivated");
        assert_eq!(user(Some((true, true))), "user.updated");
        assert_eq!(user(None), "user.updated");
        assert_eq!(
            event_type(ResourceKind::Group, Change::MembersRemoved, None),
            "group.members.removed"
        );
        assert!(is_active(&json!({})));
        assert!(!is_active(&json!({"active": false})));
    }

    #[test]
    fn an_event_encodes_with_a_unique_id_and_seq_goes_first() {
        let d = Before::of(&json!({"displayName": "Ops"})).diff(&json!({"displayName": "SRE"}));
        let data = raw(&json!({"id": "g1", "displayName": "SRE"}));
        let event = Event {
            kind: "group.updated",
            time: "2026-12-02T08:00:00Z",
            subject: Subject {
                kind: ResourceKind::Group,
                id: "g1",
                version: 3,
            },
            diff: &d,
            members: None,
            normalized: Quirks::default(),
            data: Some(&data),
        };
        let actor = Actor {
            token: "okta".into(),
            user_agent: Some("Okta SCIM Client 1.0.0".into()),
        };
        let a = encode(&event, &actor, DataMode::Full);
        let b = encode(&event, &actor, DataMode::Full);
        let shown: Value = serde_json::from_slice(&with_seq(7, &a)).unwrap();
        let other: Value = serde_json::from_slice(&with_seq(8, &b)).unwrap();
        assert_ne!(shown["id"], other["id"], "each event has its own id");
        assert_eq!(shown["seq"], 7);
        assert!(with_seq(7, &a).starts_with(b"{\"seq\":7,"));
        assert_eq!(shown["type"], "group.updated");
        assert_eq!(
            shown["resource"],
            json!({"type": "Group", "id": "g1", "version": 3})
        );
        assert_eq!(shown["changed"], json!(["displayName"]));
        assert_eq!(shown["previous"], json!({"displayName": "Ops"}));
        assert_eq!(
            shown["actor"],
            json!({"token": "okta", "userAgent": "Okta SCIM Client 1.0.0"})
        );
        assert_eq!(shown["data"]["displayName"], "SRE");
        // Ids only: no personal data.
        let ids: Value =
            serde_json::from_slice(&with_seq(9, &encode(&event, &actor, DataMode::Ids))).unwrap();
        assert!(
            ids.get("data").is_none() && ids.get("previous").is_none(),
            "{ids}"
        );
        assert_eq!(ids["changed"], json!(["displayName"]));
    }

    #[test]
    fn members_come_in_chunks_of_a_thousand() {
        let ids: Vec<String> = (0..2_500).map(|i| format!("u{i}")).collect();
        let sizes: Vec<usize> = member_chunks(&ids).map(<[String]>::len).collect();
        assert_eq!(sizes, [1_000, 1_000, 500]);
        assert_eq!(DataMode::parse(" IDS "), Some(DataMode::Ids));
        assert_eq!(DataMode::parse("some"), None);
    }
}
