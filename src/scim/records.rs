//! How the SCIM records (users, groups, their indexes and memberships) map onto the store:
//! record spaces, index and set names, the stored envelope of a resource, and a batch builder
//! for the engine's atomic writes.
//!
//! Layout (names live only here):
//! * records `scim.users/<id>`, `scim.groups/<id>`: a [`Stored`] envelope as JSON;
//! * unique index `scim.users.userName`: lower-cased userName → user id (uniqueness is
//!   case-insensitive, RFC 7643 §4.1.1 says userName is not caseExact);
//! * sets `scim.users.externalId:<externalId>` and `scim.groups.displayName:<lower name>`: ids,
//!   for the lookups identity providers make on every sync;
//! * sets `scim.members:<group id>` (member ids) and `scim.memberOf:<user id>` (group ids):
//!   memberships, so adding one member to a 100,000-member group touches two set entries and
//!   never rewrites a member list.
//!
//! Must not know SCIM rules beyond these keys: validation and semantics are the engine's.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{
    Mutation, Precondition, Record, SharedStore, StoreError, StoreKey, Version, WriteBatch,
};

use super::schema::{ResourceKind, ResourceType, GROUP_TYPE, USER_TYPE};

/// A resource as stored: its attributes without `id`, `meta` or computed attributes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// When it was created (RFC 3339).
    pub created: String,
    /// When it last changed (RFC 3339).
    #[serde(rename = "lastModified")]
    pub last_modified: String,
    /// The attributes.
    pub doc: Value,
}

/// A stored resource with its id and version.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The id.
    pub id: String,
    /// The store version (the ETag).
    pub version: Version,
    /// The envelope.
    pub stored: Stored,
}

/// The record space of a resource type.
pub fn space(rt: &ResourceType) -> &'static str {
    match rt.kind {
        ResourceKind::User => "scim.users",
        ResourceKind::Group => "scim.groups",
    }
}

const USER_NAME_INDEX: &str = "scim.users.userName";

fn external_id_set(rt: &ResourceType, external_id: &str) -> String {
    format!("{}.externalId:{external_id}", space(rt))
}

fn display_name_set(display_name: &str) -> String {
    format!("scim.groups.displayName:{}", display_name.to_lowercase())
}

fn members_set(group_id: &str) -> String {
    format!("scim.members:{group_id}")
}

fn member_of_set(user_id: &str) -> String {
    format!("scim.memberOf:{user_id}")
}

/// A stored resource as read, its envelope not yet parsed: what a read renders from directly
/// when it needs no tree ([`crate::scim::resource::splice`]).
#[derive(Clone, Debug)]
pub struct Raw {
    /// The id.
    pub id: String,
    /// The store version (the ETag).
    pub version: Version,
    /// The [`Stored`] envelope as JSON.
    pub bytes: bytes::Bytes,
}

impl Raw {
    fn new(id: String, record: Record) -> Raw {
        Raw {
            id,
            version: record.version,
            bytes: record.value,
        }
    }

    /// The name a reference to this resource shows (`display`): its `displayName`, else its
    /// `userName`, when a string. Only those two attributes are parsed; the rest of the
    /// envelope is skipped.
    pub fn display_name(&self) -> Result<Option<String>, StoreError> {
        #[derive(Deserialize)]
        struct Envelope {
            doc: Names,
        }
        #[derive(Deserialize)]
        struct Names {
            #[serde(rename = "displayName")]
            display_name: Option<Value>,
            #[serde(rename = "userName")]
            user_name: Option<Value>,
        }
        let names = serde_json::from_slice::<Envelope>(&self.bytes)
            .map_err(|e| corrupt(&self.id, &e))?
            .doc;
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        Ok(text(names.display_name).or_else(|| text(names.user_name)))
    }

    /// The envelope parsed.
    pub fn decode(self) -> Result<Loaded, StoreError> {
        // The position and kind only: serde's message can quote a stored value (personal
        // data), and this error reaches a log line.
        let stored = serde_json::from_slice(&self.bytes).map_err(|e| corrupt(&self.id, &e))?;
        Ok(Loaded {
            id: self.id,
            version: self.version,
            stored,
        })
    }
}

/// A stored document that does not parse: its position and kind only (serde's message can
/// quote a stored value, personal data, and this error reaches a log line).
pub(crate) fn corrupt(id: &str, e: &serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        context: format!(
            "resource {id}: not a stored document ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    }
}

/// The SCIM records over the store: typed reads, and [`Records::commit`] for the batches
/// [`Changes`] builds. Time limits are the store guard's (`store::guard`).
#[derive(Clone)]
pub struct Records {
    store: SharedStore,
}

/// A set's first page: a user's few groups answer in one read; big sets (a large group's
/// members) continue in pages of [`PAGE`].
const FIRST: usize = 100;
const PAGE: usize = 5_000;

/// Reads one request overlaps on a store across the network: they share its connection and
/// come back in a few round trips instead of one each.
const REMOTE_READS_IN_FLIGHT: usize = 32;

impl Records {
    /// How many independent reads of one request are worth issuing at once: many on a shared
    /// (networked) store, one on the embedded store, which answers each from memory at once
    /// and where overlap only adds scheduling (measured: a page of 100 0.92 with 32).
    pub fn reads_in_flight(&self) -> usize {
        if self.store.shared() {
            REMOTE_READS_IN_FLIGHT
        } else {
            1
        }
    }

    /// The records in `store`.
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    /// The underlying store.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// One resource.
    pub async fn load(&self, rt: &ResourceType, id: &str) -> Result<Option<Loaded>, StoreError> {
        self.load_raw(rt, id).await?.map(|r| r.decode()).transpose()
    }

    /// [`Records::load`] without parsing the envelope.
    pub async fn load_raw(&self, rt: &ResourceType, id: &str) -> Result<Option<Raw>, StoreError> {
        Ok(self
            .store
            .get(&StoreKey::new(space(rt), id))
            .await?
            .map(|record| Raw::new(id.to_owned(), record)))
    }

    /// [`Records::load_raw`] of a user with [`Records::groups_of`] it, in one store read for
    /// a member of up to 100 groups.
    pub async fn load_raw_with_groups(
        &self,
        id: &str,
    ) -> Result<Option<(Raw, Vec<String>)>, StoreError> {
        let set = member_of_set(id);
        let (found, mut groups) = self
            .store
            .get_with_members(&StoreKey::new(space(&USER_TYPE), id), &set, FIRST)
            .await?;
        let Some(record) = found else {
            return Ok(None);
        };
        self.rest(&set, &mut groups).await?;
        Ok(Some((Raw::new(id.to_owned(), record), groups)))
    }

    /// Several resources in one round trip; missing ids are skipped, order kept.
    pub async fn load_many(
        &self,
        rt: &ResourceType,
        ids: &[String],
    ) -> Result<Vec<Loaded>, StoreError> {
        self.load_many_raw(rt, ids)
            .await?
            .into_iter()
            .map(Raw::decode)
            .collect()
    }

    /// [`Records::load_many`] without parsing the envelopes.
    pub async fn load_many_raw(
        &self,
        rt: &ResourceType,
        ids: &[String],
    ) -> Result<Vec<Raw>, StoreError> {
        let records = self.store.get_many(space(rt), ids).await?;
        Ok(ids
            .iter()
            .zip(records)
            .filter_map(|(id, r)| r.map(|r| Raw::new(id.clone(), r)))
            .collect())
    }

    /// What each of `ids` names, in `ids` order: a user, a group, or `None` for neither. Two
    /// store reads at most; no envelope is parsed.
    pub async fn kinds(
        &self,
        ids: &[String],
    ) -> Result<Vec<Option<&'static ResourceType>>, StoreError> {
        let users = self.store.get_many(space(&USER_TYPE), ids).await?;
        let mut kinds: Vec<Option<&'static ResourceType>> = users
            .iter()
            .map(|u| u.as_ref().map(|_| &USER_TYPE))
            .collect();
        let rest: Vec<String> = ids
            .iter()
            .zip(&kinds)
            .filter(|(_, k)| k.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        if !rest.is_empty() {
            let mut groups = self
                .store
                .get_many(space(&GROUP_TYPE), &rest)
                .await?
                .into_iter();
            for kind in kinds.iter_mut().filter(|k| k.is_none()) {
                if groups.next().flatten().is_some() {
                    *kind = Some(&GROUP_TYPE);
                }
            }
        }
        Ok(kinds)
    }

    /// Resources in id order, skipping `offset`.
    pub async fn page(
        &self,
        rt: &ResourceType,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Loaded>, StoreError> {
        self.page_raw(rt, offset, limit)
            .await?
            .into_iter()
            .map(Raw::decode)
            .collect()
    }

    /// [`Records::page`] without parsing the envelopes.
    pub async fn page_raw(
        &self,
        rt: &ResourceType,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Raw>, StoreError> {
        Ok(self
            .store
            .list(space(rt), offset, limit)
            .await?
            .into_iter()
            .map(|(id, r)| Raw::new(id, r))
            .collect())
    }

    /// How many resources of a type exist.
    pub async fn count(&self, rt: &ResourceType) -> Result<usize, StoreError> {
        self.store.count(space(rt)).await
    }

    /// The user owning `user_name` (case-insensitively).
    pub async fn user_by_name(&self, user_name: &str) -> Result<Option<String>, StoreError> {
        let term = user_name.to_lowercase();
        self.store.lookup(USER_NAME_INDEX, &term).await
    }

    /// Ids with this exact externalId.
    pub async fn by_external_id(
        &self,
        rt: &ResourceType,
        external_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.all(&external_id_set(rt, external_id)).await
    }

    /// Groups with this displayName (case-insensitively).
    pub async fn groups_by_name(&self, display_name: &str) -> Result<Vec<String>, StoreError> {
        self.all(&display_name_set(display_name)).await
    }

    /// Up to `limit` member ids of a group, after `after`.
    pub async fn members(
        &self,
        group_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let set = members_set(group_id);
        self.store.members(&set, after, limit).await
    }

    /// Every member id of a group.
    pub async fn all_members(&self, group_id: &str) -> Result<Vec<String>, StoreError> {
        self.all(&members_set(group_id)).await
    }

    /// The number of members of a group.
    pub async fn member_count(&self, group_id: &str) -> Result<usize, StoreError> {
        let set = members_set(group_id);
        self.store.set_len(&set).await
    }

    /// Whether `member` is in the group.
    pub async fn is_member(&self, group_id: &str, member: &str) -> Result<bool, StoreError> {
        let set = members_set(group_id);
        self.store.is_member(&set, member).await
    }

    /// The ids of the groups a resource is a direct member of.
    pub async fn groups_of(&self, member: &str) -> Result<Vec<String>, StoreError> {
        self.all(&member_of_set(member)).await
    }

    /// [`Records::groups_of`] for each of `members`, in order: one store round trip for a
    /// page of users, more only for a member of over 100 groups.
    pub async fn groups_of_many(&self, members: &[String]) -> Result<Vec<Vec<String>>, StoreError> {
        let sets: Vec<String> = members.iter().map(|m| member_of_set(m)).collect();
        let mut firsts = self.store.members_many(&sets, FIRST).await?;
        for (set, groups) in sets.iter().zip(&mut firsts) {
            self.rest(set, groups).await?;
        }
        Ok(firsts)
    }

    async fn all(&self, set: &str) -> Result<Vec<String>, StoreError> {
        let mut out = self.store.members(set, None, FIRST).await?;
        self.rest(set, &mut out).await?;
        Ok(out)
    }

    /// Completes `out`, the first page of `set` read with limit `FIRST`: when that page came
    /// full, reads the members after it, in large pages; otherwise it already holds them all.
    async fn rest(&self, set: &str, out: &mut Vec<String>) -> Result<(), StoreError> {
        if out.len() < FIRST {
            return Ok(());
        }
        loop {
            let batch = self
                .store
                .members(set, out.last().map(String::as_str), PAGE)
                .await?;
            let done = batch.len() < PAGE;
            out.extend(batch);
            if done {
                return Ok(());
            }
        }
    }

    /// Applies a batch built with [`Changes`].
    pub async fn commit(&self, changes: Changes) -> Result<Option<Version>, StoreError> {
        let key = changes.primary.clone();
        super::commit_point::fault_delay("SCIM_BRIDGE_TEST_PRE_COMMIT_DELAY_MS").await;
        // From here on the write may be applied: the request's deadline no longer cuts it short.
        super::commit_point::mark();
        super::commit_point::fault_delay("SCIM_BRIDGE_TEST_COMMIT_DELAY_MS").await;
        let committed = self.store.write(changes.batch).await?;
        Ok(key.and_then(|k| committed.version_of(&k)))
    }
}

/// What a write expects of the resource's current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// It must not exist (create).
    Absent,
    /// It must be at this version (optimistic concurrency, `If-Match`).
    Version(Version),
}

/// Builds one atomic change to the records.
#[derive(Debug, Default)]
pub struct Changes {
    batch: WriteBatch,
    primary: Option<StoreKey>,
    memberships: Vec<Membership>,
}

/// One membership change in a [`Changes`], in the order made: what member events describe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The group.
    pub group: String,
    /// The member.
    pub member: String,
    /// Added (true) or removed.
    pub added: bool,
}

impl Changes {
    /// An empty change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes a resource, expecting `expect`; its new version is what [`Records::commit`]
    /// returns.
    pub fn put(&mut self, rt: &ResourceType, id: &str, stored: &Stored, expect: Expect) {
        let key = StoreKey::new(space(rt), id);
        self.batch.preconditions.push(match expect {
            Expect::Absent => Precondition::Absent(key.clone()),
            Expect::Version(v) => Precondition::Version(key.clone(), v),
        });
        let value = serde_json::to_vec(stored).expect("a Stored envelope always serialises");
        self.batch.mutations.push(Mutation::Put {
            key: key.clone(),
            value: value.into(),
        });
        self.primary = Some(key);
    }

    /// Writes a record outside the directory (the deprovisioning guard's state) at `version`
    /// (absent: it must not exist yet), in the same batch.
    pub fn put_raw(&mut self, key: StoreKey, value: bytes::Bytes, version: Option<Version>) {
        self.batch
            .preconditions
            .push(Precondition::unchanged(key.clone(), version));
        self.batch.mutations.push(Mutation::Put { key, value });
    }

    /// Deletes a resource at version `version`.
    pub fn delete(&mut self, rt: &ResourceType, id: &str, version: Version) {
        let key = StoreKey::new(space(rt), id);
        self.batch
            .preconditions
            .push(Precondition::Version(key.clone(), version));
        self.batch.mutations.push(Mutation::Delete { key });
    }

    /// Requires a resource to exist when the batch applies (e.g. a member being added).
    pub fn require(&mut self, rt: &ResourceType, id: &str) {
        self.batch
            .preconditions
            .push(Precondition::Exists(StoreKey::new(space(rt), id)));
    }

    /// Claims a userName for a user (fails the batch with `StoreError::Unique` if taken).
    pub fn claim_user_name(&mut self, user_name: &str, id: &str) {
        self.batch.mutations.push(Mutation::Claim {
            index: USER_NAME_INDEX.into(),
            term: user_name.to_lowercase(),
            owner: id.into(),
        });
    }

    /// Releases a userName the user holds.
    pub fn release_user_name(&mut self, user_name: &str, id: &str) {
        self.batch.mutations.push(Mutation::Release {
            index: USER_NAME_INDEX.into(),
            term: user_name.to_lowercase(),
            owner: id.into(),
        });
    }

    /// Indexes an externalId.
    pub fn index_external_id(&mut self, rt: &ResourceType, external_id: &str, id: &str) {
        self.set_add(external_id_set(rt, external_id), id);
    }

    /// Removes an externalId from the index.
    pub fn unindex_external_id(&mut self, rt: &ResourceType, external_id: &str, id: &str) {
        self.set_remove(external_id_set(rt, external_id), id);
    }

    /// Indexes a group's displayName.
    pub fn index_group_name(&mut self, display_name: &str, id: &str) {
        self.set_add(display_name_set(display_name), id);
    }

    /// Removes a group's displayName from the index.
    pub fn unindex_group_name(&mut self, display_name: &str, id: &str) {
        self.set_remove(display_name_set(display_name), id);
    }

    /// Adds `member` to a group (both directions).
    pub fn add_member(&mut self, group_id: &str, member: &str) {
        self.set_add(members_set(group_id), member);
        self.set_add(member_of_set(member), group_id);
        self.memberships.push(Membership {
            group: group_id.into(),
            member: member.into(),
            added: true,
        });
    }

    /// Removes `member` from a group (both directions).
    pub fn remove_member(&mut self, group_id: &str, member: &str) {
        self.set_remove(members_set(group_id), member);
        self.set_remove(member_of_set(member), group_id);
        self.memberships.push(Membership {
            group: group_id.into(),
            member: member.into(),
            added: false,
        });
    }

    /// The membership changes made so far, in order.
    pub fn memberships(&self) -> &[Membership] {
        &self.memberships
    }

    /// Appends an entry to log `log` in the same batch, found later by each of `keys` (the ids
    /// of the resources it is about: their history).
    pub fn append(&mut self, log: &str, entry: Vec<u8>, keys: Vec<String>) {
        self.batch.mutations.push(Mutation::Append {
            log: log.into(),
            value: entry.into(),
            keys,
        });
    }

    /// Drops the reverse-membership set of a deleted resource.
    pub fn clear_member_of(&mut self, member: &str) {
        self.batch.mutations.push(Mutation::SetClear {
            set: member_of_set(member),
        });
    }

    /// Drops the member set of a deleted group.
    pub fn clear_members(&mut self, group_id: &str) {
        self.batch.mutations.push(Mutation::SetClear {
            set: members_set(group_id),
        });
    }

    /// Whether nothing would be written.
    pub fn is_empty(&self) -> bool {
        self.batch.mutations.is_empty()
    }

    fn set_add(&mut self, set: String, member: &str) {
        self.batch.mutations.push(Mutation::SetAdd {
            set,
            member: member.into(),
        });
    }

    fn set_remove(&mut self, set: String, member: &str) {
        self.batch.mutations.push(Mutation::SetRemove {
            set,
            member: member.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::scim::schema::{GROUP_TYPE, USER_TYPE};
    use crate::store::embedded::EmbeddedStore;

    fn stored(doc: Value) -> Stored {
        Stored {
            created: "2026-01-01T00:00:00Z".into(),
            last_modified: "2026-01-01T00:00:00Z".into(),
            doc,
        }
    }

    fn raw(doc: Value) -> Raw {
        Raw {
            id: "r1".into(),
            version: 1,
            bytes: serde_json::to_vec(&stored(doc)).unwrap().into(),
        }
    }

    #[test]
    fn a_reference_shows_the_display_name_else_the_user_name_when_a_string() {
        let name = |doc| raw(doc).display_name().unwrap();
        assert_eq!(
            name(json!({"displayName": "Eng", "userName": "eng@x", "members": [1, {"a": [2]}]}))
                .as_deref(),
            Some("Eng")
        );
        assert_eq!(
            name(json!({"userName": "alice@x", "name": {"displayName": "nested"}})).as_deref(),
            Some("alice@x")
        );
        assert_eq!(
            name(json!({"displayName": 7, "userName": "bob@x"})).as_deref(),
            Some("bob@x")
        );
        assert_eq!(name(json!({"displayName": null})), None);
        assert_eq!(name(json!({})), None);
        let broken = Raw {
            bytes: b"{\"doc\": {\"displayName\": ".to_vec().into(),
            ..raw(json!({}))
        };
        assert!(
            broken.display_name().is_err(),
            "a truncated envelope is corrupt"
        );
    }

    #[tokio::test]
    async fn users_groups_indexes_and_memberships_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::new(Arc::new(EmbeddedStore::open(dir.path()).unwrap()));

        let mut c = Changes::new();
        c.put(
            &USER_TYPE,
            "u1",
            &stored(json!({"userName": "Alice"})),
            Expect::Absent,
        );
        c.claim_user_name("Alice", "u1");
        c.index_external_id(&USER_TYPE, "ext-1", "u1");
        assert_eq!(records.commit(c).await.unwrap(), Some(1));

        let mut c = Changes::new();
        c.put(
            &GROUP_TYPE,
            "g1",
            &stored(json!({"displayName": "Eng"})),
            Expect::Absent,
        );
        c.index_group_name("Eng", "g1");
        c.require(&USER_TYPE, "u1");
        c.add_member("g1", "u1");
        records.commit(c).await.unwrap();

        assert_eq!(
            records.user_by_name("ALICE").await.unwrap().as_deref(),
            Some("u1")
        );
        assert_eq!(
            records.by_external_id(&USER_TYPE, "ext-1").await.unwrap(),
            ["u1"]
        );
        assert_eq!(records.groups_by_name("eng").await.unwrap(), ["g1"]);
        let ids = ["g1", "nope", "u1", "g1"].map(String::from);
        let kinds: Vec<Option<&str>> = records
            .kinds(&ids)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.map(|rt| rt.name))
            .collect();
        assert_eq!(kinds, [Some("Group"), None, Some("User"), Some("Group")]);
        assert_eq!(records.all_members("g1").await.unwrap(), ["u1"]);
        assert_eq!(records.groups_of("u1").await.unwrap(), ["g1"]);
        assert_eq!(records.count(&USER_TYPE).await.unwrap(), 1);
        let u = records.load(&USER_TYPE, "u1").await.unwrap().unwrap();
        assert_eq!(u.stored.doc["userName"], "Alice");

        // A second user may not take the same name in another case; nothing of it is written.
        let mut c = Changes::new();
        c.put(
            &USER_TYPE,
            "u2",
            &stored(json!({"userName": "alice"})),
            Expect::Absent,
        );
        c.claim_user_name("alice", "u2");
        assert!(matches!(
            records.commit(c).await,
            Err(StoreError::Unique { .. })
        ));
        assert!(records.load(&USER_TYPE, "u2").await.unwrap().is_none());

        // Adding a member that does not exist fails the whole batch.
        let mut c = Changes::new();
        c.require(&USER_TYPE, "ghost");
        c.add_member("g1", "ghost");
        assert!(matches!(
            records.commit(c).await,
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(records.member_count("g1").await.unwrap(), 1);
    }
}
