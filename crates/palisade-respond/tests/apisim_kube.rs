//! The in-process API server answers the real `kube` client as a cluster would: status codes,
//! resourceVersion conflicts, patches, selectors, subresources, controllers.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod, Secret, ServiceAccount};
use kube::api::{
    Api, DeleteParams, EvictParams, ListParams, LogParams, Patch, PatchParams, PostParams,
};
use palisade_apisim::ApiServer;
use palisade_respond::actions::connect_yaml;
use palisade_respond::drill::scenario;
use serde_json::json;

fn code(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_like_a_cluster() {
    let api = ApiServer::start("s3cret").await.unwrap();
    scenario::seed(&api.cluster(), None).unwrap();
    let client = connect_yaml(&api.kubeconfig()).await.unwrap();
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "ml");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "ml");

    // 404, 409 AlreadyExists, 409 Conflict on a stale resourceVersion.
    assert_eq!(
        code(deploys.get("nope").await.unwrap_err()),
        (404, "NotFound".into())
    );
    let d = deploys.get("digits").await.unwrap();
    let mut copy = d.clone();
    copy.metadata.resource_version = None;
    copy.metadata.uid = None;
    assert_eq!(
        code(
            deploys
                .create(&PostParams::default(), &copy)
                .await
                .unwrap_err()
        )
        .0,
        409
    );
    deploys
        .patch(
            "digits",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        code(
            deploys
                .replace("digits", &PostParams::default(), &d)
                .await
                .unwrap_err()
        ),
        (409, "Conflict".into())
    );

    // A strategic merge patch changes one container by name; the controller rolls a new
    // replica set (revision 2) and the pods follow.
    let after = deploys
        .patch("digits", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "server", "image": "x:2"}]}}}})))
        .await
        .unwrap();
    let c = &after
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    assert_eq!(
        (c.image.as_deref(), c.env.as_ref().unwrap().len()),
        (Some("x:2"), 1),
        "other fields kept"
    );
    assert_eq!(
        after.metadata.annotations.unwrap()["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(after.metadata.generation, Some(2));
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "ml");
    assert_eq!(
        sets.list(&ListParams::default().labels("app=digits"))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let running = pods
        .list(&ListParams::default().labels("app=digits"))
        .await
        .unwrap()
        .items;
    assert_eq!(running.len(), 2);
    assert!(
        running
            .iter()
            .all(|p| p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("x:2"))
    );

    // Selectors: field and set-based label selectors.
    let node = running[0].spec.as_ref().unwrap().node_name.clone().unwrap();
    let on_node = Api::<Pod>::all(client.clone())
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .unwrap();
    assert!(
        on_node
            .items
            .iter()
            .all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some(node.as_str()))
    );
    let both = pods
        .list(&ListParams::default().labels("app in (digits, feature-store)"))
        .await
        .unwrap();
    assert_eq!(both.items.len(), 4);

    // Logs: the container's, and a clear 400 for a previous container that never existed.
    let name = running[0].metadata.name.clone().unwrap();
    assert_eq!(pods.logs(&name, &LogParams::default()).await.unwrap(), "");
    let lp = LogParams {
        previous: true,
        ..LogParams::default()
    };
    assert_eq!(code(pods.logs(&name, &lp).await.unwrap_err()).0, 400);

    // Evictions respect the disruption budget: feature-store keeps one of its two pods.
    let fs = pods
        .list(&ListParams::default().labels("app=feature-store"))
        .await
        .unwrap()
        .items;
    let nodes: Api<Node> = Api::all(client.clone());
    for n in ["gpu-node-1", "gpu-node-2", "gpu-node-3"] {
        nodes
            .patch(
                n,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"unschedulable": true}})),
            )
            .await
            .unwrap();
    }
    pods.evict(
        fs[0].metadata.name.as_deref().unwrap(),
        &EvictParams::default(),
    )
    .await
    .unwrap();
    let err = pods
        .evict(
            fs[1].metadata.name.as_deref().unwrap(),
            &EvictParams::default(),
        )
        .await
        .unwrap_err();
    let (c, reason) = code(err);
    assert_eq!((c, reason.as_str()), (429, "TooManyRequests"));
    let pending = pods
        .list(&ListParams::default().labels("app=feature-store"))
        .await
        .unwrap()
        .items;
    assert!(
        pending
            .iter()
            .any(|p| p.status.as_ref().unwrap().phase.as_deref() == Some("Pending")),
        "no schedulable node: the replacement waits"
    );

    // Deleting a service account takes its legacy token secrets with it; deleting a
    // deployment takes its replica sets and pods.
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "ml");
    sas.delete("digits-server", &DeleteParams::default())
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "ml");
    assert!(
        secrets
            .get_opt("digits-server-token")
            .await
            .unwrap()
            .is_none()
    );
    deploys
        .delete("digits", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        pods.list(&ListParams::default().labels("app=digits"))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    eprintln!("before 401: {:?}", std::time::Instant::now());
    // A wrong token is a 401.
    let bad = api.kubeconfig().replace("token: s3cret", "token: wrong");
    let intruder = connect_yaml(&bad).await.unwrap();
    let e = Api::<Pod>::namespaced(intruder, "ml")
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(code(e).0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_stops_at_the_disruption_budget_and_says_which_pod() {
    use palisade_respond::actions::{Action, Scope};
    let api = ApiServer::start("t").await.unwrap();
    scenario::seed(&api.cluster(), None).unwrap();
    let client = connect_yaml(&api.kubeconfig()).await.unwrap();
    let fs = api.cluster().list(
        &palisade_apisim::resources::PODS,
        Some("ml"),
        "app=feature-store",
    );
    let node_of = |i: usize| fs[i]["spec"]["nodeName"].as_str().unwrap().to_string();
    let all = Scope {
        incident: "INC-T".into(),
        nodes: vec![
            "gpu-node-1".into(),
            "gpu-node-2".into(),
            "gpu-node-3".into(),
        ],
        ..Scope::default()
    };
    Action::Cordon {
        drain: false,
        timeout_seconds: 1,
    }
    .run(&client, &all)
    .await
    .unwrap();
    // The first feature-store pod may go (one of two stays available)…
    let first = Scope {
        nodes: vec![node_of(0)],
        ..all.clone()
    };
    let done = Action::Cordon {
        drain: true,
        timeout_seconds: 1,
    }
    .run(&client, &first)
    .await
    .unwrap();
    assert!(done.summary.contains("pods evicted"), "{}", done.summary);
    // …the second may not: its replacement has nowhere to run, so the budget holds it.
    let second = Scope {
        nodes: vec![node_of(1)],
        ..all
    };
    let err = Action::Cordon {
        drain: true,
        timeout_seconds: 1,
    }
    .run(&client, &second)
    .await
    .unwrap_err();
    assert!(
        err.contains("could not be evicted within 1s")
            && err.contains("feature-store")
            && err.contains("disruption budget"),
        "{err}"
    );
}

/// A model server run as a StatefulSet, a node agent as a DaemonSet and a Job, all in one
/// incident's scope: quarantine, scale and restart act on the controllers they apply to and
/// name the others instead of passing over them in silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulsets_and_daemonsets_are_quarantined_scaled_and_restarted() {
    use palisade_apisim::resources::{DAEMON_SETS, NETWORK_POLICIES, PODS, STATEFUL_SETS};
    use palisade_respond::actions::{Action, Replicas, Scope, Status};
    let api = ApiServer::start("s3cret").await.unwrap();
    let cluster = api.cluster();
    let template = |app: &str| {
        json!({"metadata": {"labels": {"app": app}},
               "spec": {"containers": [{"name": "server", "image": format!("registry.local/{app}:1")}]}})
    };
    cluster
        .apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "triton", "namespace": "ml"},
            "spec": {"replicas": 2, "serviceName": "triton", "selector": {"matchLabels": {"app": "triton"}},
                     "template": template("triton")}}))
        .unwrap();
    cluster
        .apply(json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "gpu-agent", "namespace": "ml"},
            "spec": {"selector": {"matchLabels": {"app": "gpu-agent"}}, "template": template("gpu-agent")}}))
        .unwrap();
    for (name, app) in [
        ("triton-0", "triton"),
        ("triton-1", "triton"),
        ("gpu-agent-x", "gpu-agent"),
        ("other", "other"),
    ] {
        cluster
            .apply(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "ml", "labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}))
            .unwrap();
    }
    let client = connect_yaml(&api.kubeconfig()).await.unwrap();
    let scope = Scope {
        incident: "INC-S".into(),
        workloads: [
            "ml/triton[StatefulSet]",
            "ml/gpu-agent[DaemonSet]",
            "ml/train[Job]",
        ]
        .iter()
        .map(|w| w.parse().unwrap())
        .collect(),
        ..Scope::default()
    };

    let done = Action::Quarantine.run(&client, &scope).await.unwrap();
    assert_eq!(done.status, Status::Changed, "{}", done.summary);
    assert!(
        done.summary.contains("ml/train[Job] left alone"),
        "{}",
        done.summary
    );
    for app in ["triton", "gpu-agent"] {
        let np = cluster
            .get(
                &NETWORK_POLICIES,
                "ml",
                &format!("palisade-quarantine-{app}"),
            )
            .unwrap();
        assert_eq!(
            np["spec"]["podSelector"],
            json!({"matchLabels": {"app": app}})
        );
    }
    let label = |pod: &str| {
        cluster.get(&PODS, "ml", pod).unwrap()["metadata"]["labels"]["palisade.io/quarantine"]
            .clone()
    };
    assert_eq!(label("triton-1"), json!("INC-S"));
    assert_eq!(label("gpu-agent-x"), json!("INC-S"));
    assert_eq!(label("other"), json!(null), "only the workloads' own pods");

    let zero = Action::Scale {
        replicas: Replicas::Count(0),
    };
    let done = zero.run(&client, &scope).await.unwrap();
    assert!(
        done.summary
            .contains("ml/triton[StatefulSet] scaled from 2 to 0"),
        "{}",
        done.summary
    );
    assert!(
        done.summary.contains(
            "ml/gpu-agent[DaemonSet] left alone: only Deployments and StatefulSets have replicas"
        ),
        "{}",
        done.summary
    );
    let sts = cluster.get(&STATEFUL_SETS, "ml", "triton").unwrap();
    assert_eq!(sts["spec"]["replicas"], 0);
    assert_eq!(
        sts["metadata"]["annotations"]["palisade.io/replicas-before"],
        "2"
    );
    let back = Action::Scale {
        replicas: Replicas::Previous("previous".into()),
    };
    back.run(&client, &scope).await.unwrap();
    assert_eq!(
        cluster.get(&STATEFUL_SETS, "ml", "triton").unwrap()["spec"]["replicas"],
        2
    );

    let done = Action::Restart.run(&client, &scope).await.unwrap();
    assert_eq!(done.status, Status::Changed);
    let ds = cluster.get(&DAEMON_SETS, "ml", "gpu-agent").unwrap();
    assert_eq!(
        ds["spec"]["template"]["metadata"]["annotations"]["palisade.io/restarted-for"],
        "INC-S"
    );
    // Each again: nothing more to do.
    for action in [Action::Quarantine, Action::Restart] {
        let again = action.run(&client, &scope).await.unwrap();
        assert_eq!(again.status, Status::Unchanged, "{}", again.summary);
    }
}
