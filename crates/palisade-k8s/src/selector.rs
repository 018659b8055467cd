//! Kubernetes label selectors (`matchLabels` and `matchExpressions` with In, NotIn, Exists,
//! DoesNotExist), as NetworkPolicies, Services and RBAC bindings use them.

use crate::yaml::Node;

/// A parsed label selector. An empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Selector {
    /// Parse a `LabelSelector` node; an unknown operator is an error naming it.
    pub fn parse(node: &Node) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        if let Some(ml) = node.get("matchLabels") {
            requirements = Selector::from_map(ml).requirements;
        }
        for e in node.get("matchExpressions").map(Node::items).unwrap_or(&[]) {
            let key = e
                .get("key")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string();
            let values: Vec<String> = e
                .get("values")
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let op = e.get("operator").and_then(Node::as_str).unwrap_or("");
            requirements.push(match op {
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                other => return Err(format!("unknown selector operator '{other}'")),
            });
        }
        Ok(Selector { requirements })
    }

    /// An equality-based selector written as a plain map (a Service's or ReplicationController's
    /// `spec.selector`): every key must have its value.
    pub fn from_map(node: &Node) -> Selector {
        Selector {
            requirements: node
                .entries()
                .map(|(k, v)| {
                    Requirement::In(
                        k.as_str().unwrap_or("").to_string(),
                        vec![v.as_str().unwrap_or("").to_string()],
                    )
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &[(String, String)]) -> bool {
        let get = |k: &str| {
            labels
                .iter()
                .find(|(lk, _)| lk == k)
                .map(|(_, v)| v.as_str())
        };
        self.requirements.iter().all(|r| match r {
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn sel(s: &str) -> Selector {
        Selector::parse(&parse(s, 0).documents[0].root).unwrap()
    }

    #[test]
    fn match_labels_and_expressions() {
        let labels = vec![
            ("app".to_string(), "model".to_string()),
            ("tier".to_string(), "gpu".to_string()),
        ];
        assert!(sel("{}").matches(&labels));
        assert!(sel("matchLabels: {app: model}").matches(&labels));
        assert!(!sel("matchLabels: {app: web}").matches(&labels));
        assert!(
            sel("matchExpressions: [{key: tier, operator: In, values: [gpu, cpu]}]")
                .matches(&labels)
        );
        assert!(
            !sel("matchExpressions: [{key: tier, operator: NotIn, values: [gpu]}]")
                .matches(&labels)
        );
        assert!(sel("matchExpressions: [{key: x, operator: DoesNotExist}]").matches(&labels));
        assert!(!sel("matchExpressions: [{key: x, operator: Exists}]").matches(&labels));
        let bad = Selector::parse(
            &parse("matchExpressions: [{key: x, operator: Has}]", 0).documents[0].root,
        );
        assert!(bad.unwrap_err().contains("Has"));
    }
}
