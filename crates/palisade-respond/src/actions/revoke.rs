//! Revoking a workload's credentials: its service account's legacy token secrets are deleted,
//! the service account is recreated (a new uid: every token bound to the old one fails
//! validation from then on) and the workload is restarted so its pods mount fresh tokens.
//!
//! Propagation: the API server validates a bound token against the service account (and pod)
//! it names, so revocation takes effect as soon as the API servers' caches see the deletion;
//! clients holding a token get 401s from then on. Tokens for other audiences (cloud IAM
//! federation) are exchanged tokens and must be revoked with that provider.

use super::controller::CONTROLLERS;
use super::rollout::NO_PODS;
use super::{Done, Evidence, Scope, api_error, controller, restart_patch};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

pub const REVOKED_FOR: &str = "palisade.io/credentials-revoked-for";

pub async fn run(client: &Client, scope: &Scope) -> Result<Done, String> {
    let (mut summary, mut ev, mut changed) = (Vec::new(), Vec::new(), false);
    for c in controller::found(client, scope, &CONTROLLERS, NO_PODS, &mut summary).await? {
        let w = c.workload.clone();
        let sa_name = c.service_account();
        if sa_name == "default" {
            summary.push(format!(
                "{w} runs as its namespace's 'default' service account; recreating it would cut off every workload there, so nothing was revoked — give {w} its own service account"
            ));
            continue;
        }
        let ns = &w.namespace;
        let sa_api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        let sa = sa_api
            .get_opt(&sa_name)
            .await
            .map_err(|e| api_error(&format!("reading service account {ns}/{sa_name}"), e))?;
        let marker = sa
            .as_ref()
            .and_then(|s| s.metadata.annotations.as_ref())
            .and_then(|a| a.get(REVOKED_FOR));
        if marker == Some(&scope.incident) {
            summary.push(format!(
                "{ns}/{sa_name} already revoked for {}",
                scope.incident
            ));
            continue;
        }
        // Legacy long-lived token secrets of the account. Their contents are not evidence
        // (they are the credential); their metadata is.
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        let legacy: Vec<Secret> = secrets
            .list(&ListParams::default())
            .await
            .map_err(|e| api_error(&format!("listing secrets in {ns}"), e))?
            .items
            .into_iter()
            .filter(|s| {
                s.type_.as_deref() == Some("kubernetes.io/service-account-token")
                    && s.metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("kubernetes.io/service-account.name"))
                        == Some(&sa_name)
            })
            .collect();
        for s in &legacy {
            let name = s.metadata.name.clone().unwrap_or_default();
            ev.push(Evidence::json(
                format!("before: secret {ns}/{name} (metadata only)"),
                &s.metadata,
            ));
            secrets
                .delete(&name, &DeleteParams::default())
                .await
                .map_err(|e| api_error(&format!("deleting token secret {ns}/{name}"), e))?;
        }
        if !legacy.is_empty() {
            summary.push(format!(
                "{} legacy token secrets of {ns}/{sa_name} deleted",
                legacy.len()
            ));
        }
        if let Some(old) = &sa {
            ev.push(Evidence::json(
                format!("before: service account {ns}/{sa_name}"),
                old,
            ));
            sa_api
                .delete(&sa_name, &DeleteParams::default())
                .await
                .map_err(|e| api_error(&format!("deleting service account {ns}/{sa_name}"), e))?;
        }
        let mut fresh = ServiceAccount {
            metadata: kube::api::ObjectMeta {
                name: Some(sa_name.clone()),
                namespace: Some(ns.clone()),
                labels: sa.as_ref().and_then(|s| s.metadata.labels.clone()),
                annotations: sa.as_ref().and_then(|s| s.metadata.annotations.clone()),
                ..Default::default()
            },
            automount_service_account_token: sa
                .as_ref()
                .and_then(|s| s.automount_service_account_token),
            image_pull_secrets: sa.as_ref().and_then(|s| s.image_pull_secrets.clone()),
            secrets: None,
        };
        fresh
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(REVOKED_FOR.into(), scope.incident.clone());
        let created = sa_api
            .create(&PostParams::default(), &fresh)
            .await
            .map_err(|e| api_error(&format!("recreating service account {ns}/{sa_name}"), e))?;
        ev.push(Evidence::json(
            format!("after: service account {ns}/{sa_name}"),
            &created,
        ));
        summary.push(format!(
            "{ns}/{sa_name} recreated (uid {} → {}): tokens bound to the old account no longer validate",
            sa.as_ref().and_then(|s| s.metadata.uid.clone()).unwrap_or_else(|| "none".into()),
            created.metadata.uid.clone().unwrap_or_default()
        ));
        let restart = restart_patch(REVOKED_FOR, &scope.incident);
        c.patch(client, restart, "restarting", &mut ev).await?;
        summary.push(format!("{w} restarted to mount new tokens"));
        changed = true;
    }
    Ok(Done::new(changed, summary, ev))
}
