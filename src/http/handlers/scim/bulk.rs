//! `POST /Bulk` (RFC 7644 §3.7): several operations in one request, with `bulkId`
//! cross-references (a group created with a member created in the same request), in
//! dependency order, stopping after `failOnErrors` errors. Each operation is its own atomic
//! engine call: an earlier success stays when a later one fails, as the RFC specifies.

use std::collections::{HashMap, HashSet};

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::{discovery::BULK_MAX_OPERATIONS, request};
use crate::{
    http::{
        response::{self, Body},
        router::ResourceKind,
        AppState,
    },
    scim::{
        engine::{Ctx, Input},
        error::ScimError,
        project::Projection,
        resource::etag,
    },
};

const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// One operation of the request.
struct Op {
    method: String,
    bulk_id: Option<String>,
    path: String,
    data: Option<Value>,
    version: Option<String>,
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Takes the value of `name` (case-insensitively) out of `obj`.
fn take_field(obj: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = obj.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    obj.remove(&key)
}

/// One operation, its `data` moved out of the request rather than copied.
fn parse_op(value: Value) -> Result<Op, ScimError> {
    let Value::Object(mut obj) = value else {
        return Err(ScimError::InvalidSyntax(
            "each bulk operation must be an object".into(),
        ));
    };
    let text = |obj: &Map<String, Value>, name| {
        field(obj, name).and_then(Value::as_str).map(str::to_owned)
    };
    let method = text(&obj, "method")
        .ok_or_else(|| ScimError::InvalidSyntax("a bulk operation needs a method".into()))?
        .to_ascii_uppercase();
    let path = text(&obj, "path")
        .ok_or_else(|| ScimError::InvalidSyntax("a bulk operation needs a path".into()))?;
    let op = Op {
        bulk_id: text(&obj, "bulkId"),
        version: text(&obj, "version"),
        data: take_field(&mut obj, "data"),
        method,
        path,
    };
    if op.method == "POST" && op.bulk_id.is_none() {
        return Err(ScimError::InvalidSyntax(
            "a bulk POST needs a bulkId".into(),
        ));
    }
    Ok(op)
}

/// Decodes an operation's data again should its write be retried after a lost race, from its
/// serialisation: bytes kept instead of a copy of the tree (about ten times their size).
fn again_from(data: &Value) -> impl Fn() -> Result<Value, ScimError> + Sync {
    let saved = serde_json::to_vec(data).expect("a JSON value always serialises");
    move || serde_json::from_slice(&saved).map_err(|_| ScimError::Internal)
}

/// Every `bulkId:` reference in a value.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                out.push(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        Value::Object(map) => map.values().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn substitute(value: &mut Value, ids: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, ids)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, ids)),
        _ => {}
    }
}

/// `/Users`, `/Groups/abc` → kind and optional id.
fn target(path: &str) -> Result<(ResourceKind, Option<String>), ScimError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some(kind) = parts.first().and_then(|s| ResourceKind::from_segment(s)) else {
        return Err(ScimError::InvalidPath(format!(
            "bulk path {path:?} names no resource type"
        )));
    };
    match parts.as_slice() {
        [_] => Ok((kind, None)),
        [_, id] if !id.is_empty() => Ok((kind, Some((*id).to_owned()))),
        _ => Err(ScimError::InvalidPath(format!(
            "bulk path {path:?} is not a resource"
        ))),
    }
}

async fn execute(
    state: &AppState,
    op: Op,
    ctx: &Ctx,
) -> Result<(StatusCode, Option<(String, u64)>), ScimError> {
    let (kind, id) = target(&op.path)?;
    let rt = kind.resource_type();
    let data = || {
        op.data
            .ok_or_else(|| ScimError::InvalidSyntax("this bulk operation needs data".into()))
    };
    let if_match = op
        .version
        .as_deref()
        .and_then(crate::scim::resource::parse_etag);
    let location = |id: &str| format!("{}{}/{id}", ctx.base_url, rt.endpoint);
    match (op.method.as_str(), id) {
        ("POST", None) => {
            let r = state
                .engine
                .create(rt, data()?, &Projection::default_for(rt), ctx)
                .await?;
            Ok((StatusCode::CREATED, Some((r.id, r.version))))
        }
        ("PUT", Some(id)) => {
            let data = data()?;
            let again = again_from(&data);
            let l = state
                .engine
                .replace(rt, &id, Input::new(data, &again), if_match, ctx)
                .await?;
            Ok((StatusCode::OK, Some((location(&l.id), l.version))))
        }
        ("PATCH", Some(id)) => {
            let data = data()?;
            let again = again_from(&data);
            let l = state
                .engine
                .patch(rt, &id, Input::new(data, &again), if_match, ctx)
                .await?;
            Ok((StatusCode::OK, Some((location(&l.id), l.version))))
        }
        ("DELETE", Some(id)) => {
            state.engine.delete(rt, &id, if_match).await?;
            Ok((StatusCode::NO_CONTENT, None))
        }
        (method, _) => Err(ScimError::InvalidSyntax(format!(
            "bulk {method} is not valid on path {:?}",
            op.path
        ))),
    }
}

/// `POST /Bulk`.
pub(super) async fn handle(
    state: &AppState,
    body: &[u8],
    ctx: &Ctx,
) -> Result<http::Response<Body>, ScimError> {
    let Value::Object(mut obj) = request::json_body(body)? else {
        return Err(ScimError::InvalidSyntax(
            "a BulkRequest must be a JSON object".into(),
        ));
    };
    let Some(Value::Array(raw_ops)) = take_field(&mut obj, "Operations") else {
        return Err(ScimError::InvalidSyntax(
            "a BulkRequest needs an Operations array".into(),
        ));
    };
    if raw_ops.len() > BULK_MAX_OPERATIONS {
        return Err(ScimError::PayloadTooLarge(format!(
            "a bulk request may carry at most {BULK_MAX_OPERATIONS} operations"
        )));
    }
    let fail_on_errors = field(&obj, "failOnErrors")
        .and_then(Value::as_u64)
        .map(|n| n.max(1) as usize);
    let mut ops: Vec<Op> = raw_ops
        .into_iter()
        .map(parse_op)
        .collect::<Result<_, _>>()?;
    let declared: HashSet<String> = ops.iter().filter_map(|op| op.bulk_id.clone()).collect();

    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut created: HashMap<String, String> = HashMap::new();
    let mut errors = 0usize;
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    'rounds: while !pending.is_empty() {
        let mut progressed = false;
        let mut next = Vec::new();
        for i in pending {
            let op = &mut ops[i];
            let mut refs = Vec::new();
            references(&Value::String(op.path.clone()), &mut refs);
            if let Some(d) = &op.data {
                references(d, &mut refs);
            }
            let unknown = refs.iter().find(|r| !declared.contains(r.as_str()));
            let waiting = refs.iter().any(|r| !created.contains_key(r));
            let outcome = if let Some(r) = unknown {
                Err(ScimError::InvalidValue(format!(
                    "bulkId {r:?} is not defined in this request"
                )))
            } else if waiting {
                next.push(i);
                continue;
            } else {
                // Each operation runs once: its data moves into the write.
                let mut op_data = op.data.take();
                if let Some(d) = op_data.as_mut() {
                    substitute(d, &created);
                }
                let mut path = Value::String(op.path.clone());
                substitute(&mut path, &created);
                let resolved = Op {
                    method: op.method.clone(),
                    bulk_id: op.bulk_id.clone(),
                    path: path.as_str().unwrap_or_default().to_owned(),
                    data: op_data,
                    version: op.version.clone(),
                };
                execute(state, resolved, ctx).await
            };
            progressed = true;
            let mut item = json!({"method": op.method});
            if let Some(b) = &op.bulk_id {
                item["bulkId"] = b.clone().into();
            }
            match outcome {
                Ok((status, info)) => {
                    item["status"] = status.as_u16().to_string().into();
                    if let Some((loc_or_id, version)) = info {
                        let location = if op.method == "POST" {
                            if let Some(b) = &op.bulk_id {
                                created.insert(b.clone(), loc_or_id.clone());
                            }
                            let (kind, _) = target(&op.path)?;
                            format!(
                                "{}{}/{loc_or_id}",
                                ctx.base_url,
                                kind.resource_type().endpoint
                            )
                        } else {
                            loc_or_id
                        };
                        item["location"] = location.into();
                        item["version"] = etag(version).into();
                    }
                }
                Err(e) => {
                    errors += 1;
                    let (status, _) = e.status_and_type();
                    item["status"] = status.to_string().into();
                    item["response"] = e.to_document();
                }
            }
            results[i] = Some(item);
            if fail_on_errors.is_some_and(|max| errors >= max) {
                break 'rounds;
            }
        }
        if !progressed {
            // Only circular references remain.
            for i in next {
                let e = ScimError::Conflict("circular bulkId references".into());
                let mut item =
                    json!({"method": ops[i].method, "status": "409", "response": e.to_document()});
                if let Some(b) = &ops[i].bulk_id {
                    item["bulkId"] = b.clone().into();
                }
                results[i] = Some(item);
            }
            break;
        }
        pending = next;
    }
    let doc = json!({
        "schemas": [BULK_RESPONSE],
        "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
    });
    Ok(response::scim_json(StatusCode::OK, &doc))
}
