//! Puts a write's events into its batch, so they commit with the change or not at all: one
//! event for the resource's attributes (created, updated, deactivated, reactivated, deleted)
//! and `group.members.added` / `.removed` events, chunked, for the memberships the batch
//! changes.

use serde::{ser::SerializeMap, Serialize, Serializer};
use serde_json::{value::RawValue, Map, Value};

use super::{store_error, Ctx, Engine};
use crate::scim::{
    error::ScimError,
    events::{self, Change, Diff, Event, Subject},
    quirk::Quirks,
    records::{Changes, Loaded},
    resource::{meta_document, Meta},
    schema::{ResourceKind, ResourceType, GROUP_TYPE},
};

/// A resource as `GET` shows it (`schemas`, `id`, the attributes, `meta`), serialised from the
/// stored document without copying it.
struct Shown<'a> {
    id: &'a str,
    doc: &'a Map<String, Value>,
    meta: Value,
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(schemas) = self.doc.get("schemas") {
            map.serialize_entry("schemas", schemas)?;
        }
        map.serialize_entry("id", self.id)?;
        for (k, v) in self.doc {
            if !matches!(k.as_str(), "schemas" | "id" | "meta") {
                map.serialize_entry(k, v)?;
            }
        }
        map.serialize_entry("meta", &self.meta)?;
        map.end()
    }
}

/// What a write did to the resource it is about.
pub(super) struct Written<'a> {
    pub rt: &'static ResourceType,
    pub change: Change,
    /// The resource after the change (for a deletion: as it was).
    pub loaded: &'a Loaded,
    /// Its attributes that the change set, changed or removed.
    pub diff: &'a Diff,
    /// The identity-provider quirks applied to the request (the events' `normalized`).
    pub quirks: Quirks,
}

impl Engine {
    /// Appends the events of `written` and of the memberships `changes` holds.
    pub(super) async fn emit(
        &self,
        changes: &mut Changes,
        written: Written<'_>,
        ctx: &Ctx,
    ) -> Result<(), ScimError> {
        let Written {
            rt,
            change,
            loaded,
            diff,
            quirks,
        } = written;
        let time = match change {
            Change::Deleted => super::now(),
            _ => loaded.stored.last_modified.clone(),
        };
        let subject = Subject {
            kind: rt.kind,
            id: &loaded.id,
            version: loaded.version,
        };
        if change != Change::Updated || !diff.is_empty() {
            let active = (rt.kind == ResourceKind::User
                && diff.changed.iter().any(|p| p == "active"))
            .then(|| (was_active(diff), events::is_active(&loaded.stored.doc)));
            let data = match (change, self.event_data, &loaded.stored.doc) {
                (Change::Deleted, ..) | (_, events::DataMode::Ids, _) => None,
                (_, _, Value::Object(doc)) => Some(shown(loaded, doc, self.meta(rt, loaded, ctx))),
                _ => None,
            };
            let kind = events::event_type(rt.kind, change, active);
            if let Some(guard) = &self.deprovision {
                if matches!(kind, "user.deactivated" | "user.deleted") {
                    guard.admit(changes, kind, &loaded.id, &ctx.actor).await?;
                }
            }
            let event = Event {
                kind,
                time: &time,
                subject,
                diff,
                members: None,
                normalized: quirks,
                data: data.as_deref(),
            };
            let entry = events::encode(&event, &ctx.actor, self.event_data);
            changes.append(events::LOG, entry, vec![loaded.id.clone()]);
        }
        self.emit_members(changes, subject, change, &time, quirks, ctx)
            .await
    }

    /// The member events of a batch, per group in the order first touched: added, then
    /// removed. A deleted group's own members make none (its `group.deleted` says it all).
    async fn emit_members(
        &self,
        changes: &mut Changes,
        subject: Subject<'_>,
        change: Change,
        time: &str,
        quirks: Quirks,
        ctx: &Ctx,
    ) -> Result<(), ScimError> {
        let mut groups: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
        for m in changes.memberships() {
            if change == Change::Deleted && m.group == subject.id {
                continue;
            }
            let at = match groups.iter().position(|(g, ..)| *g == m.group) {
                Some(at) => at,
                None => {
                    groups.push((m.group.clone(), Vec::new(), Vec::new()));
                    groups.len() - 1
                }
            };
            let (_, added, removed) = &mut groups[at];
            if m.added {
                added.push(m.member.clone());
            } else {
                removed.push(m.member.clone());
            }
        }
        if groups.is_empty() {
            return Ok(());
        }
        // Other groups (a deleted user's) keep their version: read it for the events.
        let others: Vec<String> = groups
            .iter()
            .map(|(g, ..)| g.clone())
            .filter(|g| g != subject.id)
            .collect();
        let versions = if others.is_empty() {
            Vec::new()
        } else {
            self.records
                .load_many(&GROUP_TYPE, &others)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|l| (l.id, l.version))
                .collect()
        };
        let none = Diff::default();
        for (group, added, removed) in &groups {
            let version = if group == subject.id {
                subject.version
            } else {
                match versions.iter().find(|(id, _)| id == group) {
                    Some((_, v)) => *v,
                    // Gone since: its own deletion says so.
                    None => continue,
                }
            };
            for (ids, change) in [
                (added, Change::MembersAdded),
                (removed, Change::MembersRemoved),
            ] {
                for chunk in events::member_chunks(ids) {
                    let event = Event {
                        kind: events::event_type(ResourceKind::Group, change, None),
                        time,
                        subject: Subject {
                            kind: ResourceKind::Group,
                            id: group,
                            version,
                        },
                        diff: &none,
                        members: Some(chunk),
                        normalized: quirks,
                        data: None,
                    };
                    let entry = events::encode(&event, &ctx.actor, self.event_data);
                    // In the group's history and in each member's ("why is she not in …?").
                    let keys = std::iter::once(group.clone())
                        .chain(chunk.iter().cloned())
                        .collect();
                    changes.append(events::LOG, entry, keys);
                }
            }
        }
        Ok(())
    }
}

/// Whether a user was active before a change that touched `active`.
fn was_active(diff: &Diff) -> bool {
    diff.changed
        .iter()
        .zip(&diff.previous)
        .find(|(p, _)| *p == "active")
        .is_none_or(|(_, old)| old.get() != "false")
}

/// The resource after the change, as `GET` shows it without computed memberships.
fn shown(loaded: &Loaded, doc: &Map<String, Value>, meta: Meta) -> Box<RawValue> {
    let shown = Shown {
        id: &loaded.id,
        doc,
        meta: meta_document(&meta),
    };
    serde_json::value::to_raw_value(&shown).expect("a resource always serialises")
}
