//! The three PATCH bodies the API server accepts (server-side apply is not served):
//! JSON merge patch (RFC 7386), strategic merge patch (lists merged by their merge key, as
//! Kubernetes' schemas declare for the fields here; `$patch: delete|replace` directives) and
//! JSON patch (RFC 6902).

use serde_json::{Map, Value};

pub const MERGE: &str = "application/merge-patch+json";
pub const STRATEGIC: &str = "application/strategic-merge-patch+json";
pub const JSON_PATCH: &str = "application/json-patch+json";

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The merge key of a list field, as Kubernetes' types declare it (`patchMergeKey`).
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "secrets" => "name",
        "volumeMounts" | "volumeDevices" => "mountPath",
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        "ownerReferences" => "uid",
        "conditions" => "type",
        "hostAliases" => "ip",
        _ => return None,
    })
}

/// Strategic merge patch over `target`.
pub fn strategic(target: &mut Value, patch: &Value) -> Result<(), String> {
    strategic_field(target, patch, "")
}

fn strategic_field(target: &mut Value, patch: &Value, field: &str) -> Result<(), String> {
    match patch {
        Value::Object(p) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut p = p.clone();
                p.remove("$patch");
                *target = Value::Object(p);
                return Ok(());
            }
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if k.starts_with('$') {
                    // $retainKeys, $setElementOrder/…: ordering and pruning hints, not served.
                    continue;
                }
                if v.is_null() {
                    t.remove(k);
                } else {
                    strategic_field(t.entry(k.clone()).or_insert(Value::Null), v, k)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            let Some(key) = merge_key(field, items) else {
                *target = patch.clone();
                return Ok(());
            };
            if !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            let list = target.as_array_mut().expect("array");
            for item in items {
                let id = item
                    .get(key)
                    .ok_or_else(|| format!("an element of '{field}' has no merge key '{key}'"))?;
                let pos = list.iter().position(|x| x.get(key) == Some(id));
                let directive = item.get("$patch").and_then(Value::as_str);
                match (directive, pos) {
                    (Some("delete"), Some(i)) => {
                        list.remove(i);
                    }
                    (Some("delete"), None) => {}
                    (_, Some(i)) => strategic_field(&mut list[i], item, "")?,
                    (_, None) => {
                        let mut fresh = Value::Null;
                        strategic_field(&mut fresh, item, "")?;
                        list.push(fresh);
                    }
                }
            }
            Ok(())
        }
        other => {
            *target = other.clone();
            Ok(())
        }
    }
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("JSON pointer '{path}' must start with '/'"))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn parent<'a>(doc: &'a mut Value, parts: &[String], path: &str) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m.get_mut(p),
            Value::Array(a) => p.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("path '{path}' does not exist"))?;
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let parts = pointer_parts(path)?;
    let Some((last, init)) = parts.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| format!("index '{last}' out of range in '{path}'"))?
            };
            a.insert(i, value);
        }
        _ => return Err(format!("path '{path}' does not name a container")),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let parts = pointer_parts(path)?;
    let (last, init) = parts
        .split_last()
        .ok_or("cannot remove the whole document")?;
    match parent(doc, init, path)? {
        Value::Object(m) => m.remove(last),
        Value::Array(a) => last
            .parse::<usize>()
            .ok()
            .filter(|i| *i < a.len())
            .map(|i| a.remove(i)),
        _ => None,
    }
    .ok_or_else(|| format!("path '{path}' does not exist"))
}

/// RFC 6902. On any failed operation the document is left as it was.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch is an array of operations")?;
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        let s = |k: &str| {
            op.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("operation {i}: '{k}' is missing"))
        };
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("operation {i}: 'value' is missing"))
        };
        let path = s("path")?;
        match s("op")? {
            "add" => add(&mut doc, path, value()?)?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, value()?)?;
            }
            "move" => {
                let v = remove(&mut doc, s("from")?)?;
                add(&mut doc, path, v)?;
            }
            "copy" => {
                let v = doc
                    .pointer(s("from")?)
                    .cloned()
                    .ok_or_else(|| format!("operation {i}: 'from' does not exist"))?;
                add(&mut doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(format!("operation {i}: test failed at '{path}'"));
                }
            }
            other => return Err(format!("operation {i}: unknown op '{other}'")),
        }
    }
    *target = doc;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_replaces_lists_and_removes_nulls() {
        let mut d = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge(&mut d, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(d, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn strategic_patch_merges_containers_by_name() {
        let mut d = json!({"spec": {"containers": [
            {"name": "server", "image": "a:1", "env": [{"name": "M", "value": "v1"}]},
            {"name": "sidecar", "image": "s:1"}]}});
        strategic(
            &mut d,
            &json!({"spec": {"containers": [
            {"name": "server", "image": "a:2", "env": [{"name": "M", "value": "v2"}]},
            {"name": "sidecar", "$patch": "delete"}]}}),
        )
        .unwrap();
        assert_eq!(
            d,
            json!({"spec": {"containers": [
                {"name": "server", "image": "a:2", "env": [{"name": "M", "value": "v2"}]}]}})
        );
        let mut d = json!({"spec": {"template": {"metadata": {"labels": {"a": "1"}}}}});
        strategic(&mut d, &json!({"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "b": "2"}}}}})).unwrap();
        assert_eq!(
            d["spec"]["template"]["metadata"]["labels"],
            json!({"b": "2"})
        );
        assert!(strategic(&mut d, &json!({"containers": [{"image": "x"}]})).is_err());
    }

    #[test]
    fn json_patch_is_all_or_nothing() {
        let mut d = json!({"spec": {"unschedulable": false, "taints": []}});
        json_patch(
            &mut d,
            &json!([
            {"op": "replace", "path": "/spec/unschedulable", "value": true},
            {"op": "add", "path": "/spec/taints/-", "value": {"key": "k"}}]),
        )
        .unwrap();
        assert_eq!(
            d,
            json!({"spec": {"unschedulable": true, "taints": [{"key": "k"}]}})
        );
        let before = d.clone();
        let err = json_patch(
            &mut d,
            &json!([
            {"op": "remove", "path": "/spec/taints/0"},
            {"op": "test", "path": "/spec/unschedulable", "value": false}]),
        )
        .unwrap_err();
        assert!(err.contains("test failed"), "{err}");
        assert_eq!(d, before);
    }
}
