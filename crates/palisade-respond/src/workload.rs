//! Which workload owns a pod, when only the pod's name is known.
//!
//! Audit events and Falco alerts name pods, not their owners. With an inventory (the pod's
//! `ownerReferences`) the owner is exact; without one, the names controllers generate are
//! recognised: a Deployment's pods are `NAME-HASH-XXXXX` (the ReplicaSet's pod-template hash and a
//! random suffix, both in Kubernetes' "safe" alphabet without vowels or confusable digits), a
//! StatefulSet's are `NAME-ORDINAL`. Anything else stays a bare `Pod`.

use crate::signal::Workload;

/// Kubernetes' `rand.SafeEncodeString` alphabet.
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| SAFE.contains(&b))
}

/// The Deployment a ReplicaSet named `DEPLOYMENT-HASH` belongs to.
pub fn deployment_of_replicaset(name: &str) -> Option<&str> {
    let (deployment, hash) = name.rsplit_once('-')?;
    (!deployment.is_empty() && (6..=10).contains(&hash.len()) && safe(hash)).then_some(deployment)
}

/// The owner a pod's name implies.
pub fn from_pod_name(namespace: &str, pod: &str) -> Workload {
    let split = pod.rsplit_once('-');
    let deployment = split
        .filter(|(_, suffix)| suffix.len() == 5 && safe(suffix))
        .and_then(|(replicaset, _)| deployment_of_replicaset(replicaset));
    let statefulset = split.filter(|(set, ordinal)| {
        !set.is_empty()
            && (1..=5).contains(&ordinal.len())
            && ordinal.bytes().all(|b| b.is_ascii_digit())
    });
    let (kind, name) = match (deployment, statefulset) {
        (Some(d), _) => ("Deployment", d),
        (None, Some((set, _))) => ("StatefulSet", set),
        _ => ("Pod", pod),
    };
    Workload {
        namespace: namespace.to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_controller_generated_names() {
        let w = from_pod_name("default", "nginx-deployment-7998647bdf-phvq7");
        assert_eq!(w.to_string(), "default/nginx-deployment[Deployment]");
        let w = from_pod_name("ml", "triton-server-0");
        assert_eq!(w.to_string(), "ml/triton-server[StatefulSet]");
        // A vowel in the "hash" means it is a person's name, not a generated one.
        let w = from_pod_name("ml", "model-server-canary-abcde");
        assert_eq!(w.to_string(), "ml/model-server-canary-abcde[Pod]");
        assert_eq!(from_pod_name("ml", "web").kind, "Pod");
        assert_eq!(from_pod_name("ml", "-0").kind, "Pod");
        assert_eq!(
            deployment_of_replicaset("digits-6d4cf56db6"),
            Some("digits")
        );
        assert_eq!(deployment_of_replicaset("digits-canary"), None);
    }
}
