//! Queries (RFC 7644 §3.4.2): filters planned onto the store's indexes where they can be
//! (`id eq`, `userName eq`, `externalId eq`, a group's `displayName eq`: the lookups identity
//! providers make on every sync), otherwise a scan; then sorting, 1-based paging and projection.
//! Without a sort, results come in id order, which is stable across pages.

use std::collections::HashMap;

use serde_json::Value;

use super::{store_error, Ctx, Engine};
use crate::scim::{
    error::ScimError,
    filter::{self, Filter},
    list::{self, ListResponse, Page, SortOrder},
    project::Projection,
    records::{Loaded, Raw},
    resource::with_meta,
    schema::{ResourceKind, ResourceType},
};

/// How many resources a scan reads per store call.
const SCAN_CHUNK: usize = 1_000;

/// The parameters of a query, as text (from the query string or a `.search` body).
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// `filter`.
    pub filter: Option<String>,
    /// `sortBy`.
    pub sort_by: Option<String>,
    /// `sortOrder`.
    pub sort_order: Option<String>,
    /// `startIndex` (1-based).
    pub start_index: Option<String>,
    /// `count`.
    pub count: Option<String>,
    /// `attributes`.
    pub attributes: Option<String>,
    /// `excludedAttributes`.
    pub excluded_attributes: Option<String>,
}

/// A matching resource as stored, and its full representation when one was built (to test
/// the filter, which sorting then reuses).
struct Hit {
    rt: &'static ResourceType,
    raw: Raw,
    full: Option<Value>,
}

impl Engine {
    /// Runs a query on one resource type.
    pub async fn search(
        &self,
        rt: &'static ResourceType,
        query: &SearchQuery,
        ctx: &Ctx,
    ) -> Result<ListResponse, ScimError> {
        let page = self.page(query)?;
        let projection = Projection::parse(
            query.attributes.as_deref(),
            query.excluded_attributes.as_deref(),
            rt,
        )?;
        if query.filter.is_none() && query.sort_by.is_none() {
            return self.unfiltered(rt, &page, &projection, ctx).await;
        }
        self.search_types(&[rt], query, ctx).await
    }

    /// Runs a query across resource types (`POST /.search` at the root).
    pub async fn search_types(
        &self,
        types: &[&'static ResourceType],
        query: &SearchQuery,
        ctx: &Ctx,
    ) -> Result<ListResponse, ScimError> {
        let page = self.page(query)?;
        let order = SortOrder::parse(query.sort_order.as_deref())?;
        let mut hits = Vec::new();
        for rt in types {
            let filter = match query.filter.as_deref() {
                Some(text) => {
                    let f = filter::parse(text)?;
                    f.validate(rt)?;
                    Some(f)
                }
                None => None,
            };
            let sorted = query.sort_by.is_some();
            hits.extend(self.matching(rt, filter.as_ref(), sorted, ctx).await?);
        }
        if let Some(by) = query.sort_by.as_deref() {
            sort_hits(&mut hits, by, order, types[0]);
        }
        let total = hits.len();
        let shown: Vec<Hit> = hits
            .into_iter()
            .skip(page.start_index - 1)
            .take(page.count)
            .collect();
        let projections = shown
            .iter()
            .map(|hit| {
                Projection::parse(
                    query.attributes.as_deref(),
                    query.excluded_attributes.as_deref(),
                    hit.rt,
                )
            })
            .collect::<Result<Vec<_>, ScimError>>()?;
        let size = rendered_size(shown.iter().map(|h| &h.raw));
        let mut list = ListResponse::begin(total, page.start_index, shown.len(), size);
        let items = shown
            .into_iter()
            .zip(&projections)
            .map(|(hit, projection)| (hit.rt, hit.raw, projection))
            .collect();
        self.render_page(&mut list, items, ctx).await?;
        Ok(list)
    }

    /// The page a query asks for, clamped to the engine's largest page.
    fn page(&self, query: &SearchQuery) -> Result<Page, ScimError> {
        Page::parse(
            query.start_index.as_deref(),
            query.count.as_deref(),
            self.limits.max_page,
        )
    }

    /// The fast path: a page of everything, in id order, straight from the store.
    async fn unfiltered(
        &self,
        rt: &'static ResourceType,
        page: &Page,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Result<ListResponse, ScimError> {
        let total = self.records.count(rt).await.map_err(store_error)?;
        let raws = if page.count == 0 {
            Vec::new()
        } else {
            self.records
                .page_raw(rt, page.start_index - 1, page.count)
                .await
                .map_err(store_error)?
        };
        let size = rendered_size(raws.iter());
        let mut list = ListResponse::begin(total, page.start_index, raws.len(), size);
        let items = raws.into_iter().map(|r| (rt, r, projection)).collect();
        self.render_page(&mut list, items, ctx).await?;
        Ok(list)
    }

    /// Every resource of `rt` that matches `filter` (all of them without one); with `sorted`,
    /// each with its full representation.
    async fn matching(
        &self,
        rt: &'static ResourceType,
        filter: Option<&Filter>,
        sorted: bool,
        ctx: &Ctx,
    ) -> Result<Vec<Hit>, ScimError> {
        let computed = filter.is_some_and(mentions_computed);
        // A filter on stored attributes alone can be tried on the stored document, so a scan
        // builds the full representation (a copy with `id` and `meta`) only for the hits.
        let stored_only = filter.filter(|f| !computed && !mentions_envelope(f));
        let mut hits = Vec::new();
        if let Some(ids) = self.candidates(rt, filter).await? {
            let raws = self
                .records
                .load_many_raw(rt, &ids)
                .await
                .map_err(store_error)?;
            // A lone `eq` an index answered (`userName`, `externalId`, a group's
            // `displayName`, `id`): the index folds case exactly as the filter compares, so
            // every candidate matches and none needs a tree (the lookup identity providers
            // make before every write).
            let exact = matches!(filter, Some(Filter::Compare { .. }));
            for raw in raws {
                if exact && !sorted {
                    hits.push(Hit {
                        rt,
                        raw,
                        full: None,
                    });
                    continue;
                }
                let loaded = raw.clone().decode().map_err(store_error)?;
                let full = self.full(rt, &loaded, computed, ctx).await?;
                if exact || filter.is_none_or(|f| f.matches(&full, rt)) {
                    hits.push(Hit {
                        rt,
                        raw,
                        full: Some(full),
                    });
                }
            }
            return Ok(hits);
        }
        let mut offset = 0;
        loop {
            let chunk = self
                .records
                .page_raw(rt, offset, SCAN_CHUNK)
                .await
                .map_err(store_error)?;
            let n = chunk.len();
            for raw in chunk {
                if filter.is_none() && !sorted {
                    hits.push(Hit {
                        rt,
                        raw,
                        full: None,
                    });
                    continue;
                }
                let loaded = raw.clone().decode().map_err(store_error)?;
                if stored_only.is_some_and(|f| !f.matches(&loaded.stored.doc, rt)) {
                    continue;
                }
                let full = self.full(rt, &loaded, computed, ctx).await?;
                if filter.is_none_or(|f| f.matches(&full, rt)) {
                    hits.push(Hit {
                        rt,
                        raw,
                        full: Some(full),
                    });
                }
            }
            if n < SCAN_CHUNK {
                return Ok(hits);
            }
            offset += n;
        }
    }

    /// Ids that can match, from an index; `None` when only a scan can tell.
    async fn candidates(
        &self,
        rt: &'static ResourceType,
        filter: Option<&Filter>,
    ) -> Result<Option<Vec<String>>, ScimError> {
        let Some(f) = filter else { return Ok(None) };
        if let Some(id) = f.equality(rt, "id") {
            return Ok(Some(vec![id.to_owned()]));
        }
        if rt.kind == ResourceKind::User {
            if let Some(name) = f.equality(rt, "userName") {
                let owner = self.records.user_by_name(name).await.map_err(store_error)?;
                return Ok(Some(owner.into_iter().collect()));
            }
        } else if let Some(name) = f.equality(rt, "displayName") {
            return self
                .records
                .groups_by_name(name)
                .await
                .map(Some)
                .map_err(store_error);
        }
        if let Some(ext) = f.equality(rt, "externalId") {
            return self
                .records
                .by_external_id(rt, ext)
                .await
                .map(Some)
                .map_err(store_error);
        }
        Ok(None)
    }

    /// The unprojected representation filters are evaluated on (with `meta`; computed
    /// attributes only when the filter refers to them).
    async fn full(
        &self,
        rt: &'static ResourceType,
        loaded: &Loaded,
        computed: bool,
        ctx: &Ctx,
    ) -> Result<Value, ScimError> {
        let mut doc = loaded.stored.doc.clone();
        if computed {
            if let Value::Object(map) = &mut doc {
                self.add_computed(rt, &loaded.id, map, &Projection::default_for(rt), ctx)
                    .await?;
            }
        }
        Ok(with_meta(doc, &loaded.id, &self.meta(rt, loaded, ctx)))
    }
}

/// About the bytes a page of these stored resources renders to: each stored document, plus
/// `id`, `meta` (its location, timestamps and version) and a few groups, so the page's one
/// buffer seldom grows (each growth copies what is written so far).
fn rendered_size<'a>(raws: impl Iterator<Item = &'a Raw>) -> usize {
    raws.map(|r| r.bytes.len() + 512).sum()
}

/// Whether a filter refers to `groups` or `members`, which are computed, not stored.
fn mentions_computed(filter: &Filter) -> bool {
    // The canonical printed form names every attribute path; a false positive only costs time.
    let text = filter.to_string().to_ascii_lowercase();
    text.contains("groups") || text.contains("members")
}

/// Whether a filter may refer to `id` or `meta`, which the stored document lacks (they are
/// added when it is rendered). Any path segment or URN part named so counts; a false positive
/// only costs time.
fn mentions_envelope(filter: &Filter) -> bool {
    filter
        .to_string()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case("id") || w.eq_ignore_ascii_case("meta"))
}

/// Sorts hits that carry their full representation (`matching` with `sorted`).
fn sort_hits(hits: &mut Vec<Hit>, by: &str, order: SortOrder, rt: &ResourceType) {
    let mut docs: Vec<Value> = hits.iter().filter_map(|h| h.full.clone()).collect();
    list::sort(&mut docs, by, order, rt);
    let mut by_id: HashMap<String, Hit> = hits.drain(..).map(|h| (h.raw.id.clone(), h)).collect();
    for doc in docs {
        if let Some(hit) = doc
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| by_id.remove(id))
        {
            hits.push(hit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_on_id_or_meta_needs_the_rendered_document() {
        let needs = |text: &str| mentions_envelope(&filter::parse(text).unwrap());
        assert!(needs(r#"id ne "x""#));
        assert!(needs(r#"meta.lastModified gt "2000-01-01T00:00:00Z""#));
        assert!(needs(r#"userName co "a" or meta.resourceType eq "User""#));
        assert!(needs(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:id eq "x""#
        ));
        assert!(!needs(
            r#"userName co "a" or emails.value co "a" or externalId eq "a""#
        ));
        assert!(!needs(r#"displayName sw "Idris""#));
    }
}
