//! The guard's event rules: each holds the metadata and documentation of one decision the
//! guard takes; events ([`palisade_core::Event`]) carry the rule's code, severity and techniques.

pub mod concurrency;
pub mod drift;
pub mod malformed_http;
pub mod model_not_permitted;
pub mod out_of_distribution;
pub mod out_of_range;
pub mod probe_accuracy;
pub mod probe_outputs;
pub mod rate_limited;
pub mod request_limit;
pub mod schema;
pub mod unauthenticated;
pub mod upstream;

use palisade_core::RuleMeta;

pub fn all() -> Vec<&'static RuleMeta> {
    vec![
        &unauthenticated::RULE,
        &rate_limited::RULE,
        &concurrency::RULE,
        &request_limit::RULE,
        &schema::RULE,
        &out_of_range::RULE,
        &out_of_distribution::RULE,
        &upstream::RULE,
        &drift::RULE,
        &probe_accuracy::RULE,
        &probe_outputs::RULE,
        &model_not_permitted::RULE,
        &malformed_http::RULE,
    ]
}
