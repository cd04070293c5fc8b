//! Bulk (RFC 7644 §3.7): several operations in one request, with `bulkId` cross-references
//! (a group created with a member created in the same request), run in dependency order and
//! stopping after `failOnErrors` errors. Each operation is its own atomic engine call: an
//! earlier success stays when a later one fails, as the RFC specifies.
//!
//! * `request`: the operations taken apart, their targets and `bulkId` references (pure).
//! * here: the plan (which operation can run once the ids it names exist) and each
//!   operation's engine call, and the BulkResponse document. The HTTP handler only decodes the
//!   body and sends the document.

mod request;

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use self::request::{field, parse_op, references, substitute, take_field, target, Op};
use super::{
    engine::{Ctx, Engine, Input},
    error::{Fault, ScimError},
    project::Projection,
    resource::{etag, parse_etag},
};

/// The most operations one Bulk request may carry (advertised in `/ServiceProviderConfig`).
pub const MAX_OPERATIONS: usize = 1_000;

const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// What a successful operation did: its status and, unless it deleted, the resource's id and
/// new version.
struct Done {
    status: u16,
    resource: Option<(String, u64)>,
}

/// Runs a decoded BulkRequest and returns its BulkResponse document. A malformed request as a
/// whole is an error; each operation's own failure is reported in its response item.
pub async fn run(engine: &Engine, body: Value, ctx: &Ctx) -> Result<Value, ScimError> {
    let Value::Object(mut obj) = body else {
        return Err(ScimError::InvalidSyntax(
            "a BulkRequest must be a JSON object".into(),
        ));
    };
    let Some(Value::Array(raw_ops)) = take_field(&mut obj, "Operations") else {
        return Err(ScimError::InvalidSyntax(
            "a BulkRequest needs an Operations array".into(),
        ));
    };
    if raw_ops.len() > MAX_OPERATIONS {
        return Err(ScimError::PayloadTooLarge(format!(
            "a bulk request may carry at most {MAX_OPERATIONS} operations"
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
                let mut data = op.data.take();
                if let Some(d) = data.as_mut() {
                    substitute(d, &created);
                }
                let mut path = Value::String(op.path.clone());
                substitute(&mut path, &created);
                let path = path.as_str().unwrap_or_default().to_owned();
                execute(engine, op, &path, data, ctx).await
            };
            progressed = true;
            let mut item = json!({"method": op.method});
            if let Some(b) = &op.bulk_id {
                item["bulkId"] = b.clone().into();
            }
            match outcome {
                Ok(done) => {
                    item["status"] = done.status.to_string().into();
                    if let Some((id, version)) = done.resource {
                        if op.method == "POST" {
                            if let Some(b) = &op.bulk_id {
                                created.insert(b.clone(), id.clone());
                            }
                        }
                        let (kind, _) = target(&op.path)?;
                        let endpoint = kind.resource_type().endpoint;
                        item["location"] = format!("{}{endpoint}/{id}", ctx.base_url).into();
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
    Ok(json!({
        "schemas": [BULK_RESPONSE],
        "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
    }))
}

/// Decodes an operation's data again should its write be retried after a lost race, from its
/// serialisation: bytes kept instead of a copy of the tree (about ten times their size).
fn again_from(data: &Value) -> impl Fn() -> Result<Value, ScimError> + Sync {
    let saved = serde_json::to_vec(data).expect("a JSON value always serialises");
    move || serde_json::from_slice(&saved).map_err(|e| ScimError::Internal(Fault::new(e)))
}

/// One operation's engine call, on `path` with `data` (both with `bulkId`s resolved).
async fn execute(
    engine: &Engine,
    op: &Op,
    path: &str,
    data: Option<Value>,
    ctx: &Ctx,
) -> Result<Done, ScimError> {
    let (kind, id) = target(path)?;
    let rt = kind.resource_type();
    let data =
        || data.ok_or_else(|| ScimError::InvalidSyntax("this bulk operation needs data".into()));
    let if_match = op.version.as_deref().and_then(parse_etag);
    let done = |status, l: crate::scim::records::Loaded| Done {
        status,
        resource: Some((l.id, l.version)),
    };
    match (op.method.as_str(), id) {
        ("POST", None) => {
            let r = engine
                .create(rt, data()?, &Projection::default_for(rt), ctx)
                .await?;
            Ok(Done {
                status: 201,
                resource: Some((r.id, r.version)),
            })
        }
        ("PUT", Some(id)) => {
            let data = data()?;
            let again = again_from(&data);
            let l = engine
                .replace(rt, &id, Input::new(data, &again), if_match, ctx)
                .await?;
            Ok(done(200, l))
        }
        ("PATCH", Some(id)) => {
            let data = data()?;
            let again = again_from(&data);
            let l = engine
                .patch(rt, &id, Input::new(data, &again), if_match, ctx)
                .await?;
            Ok(done(200, l))
        }
        ("DELETE", Some(id)) => {
            engine.delete(rt, &id, if_match, ctx).await?;
            Ok(Done {
                status: 204,
                resource: None,
            })
        }
        (method, _) => Err(ScimError::InvalidSyntax(format!(
            "bulk {method} is not valid on path {:?}",
            op.path
        ))),
    }
}
