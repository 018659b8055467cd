//! What only an ML-aware scanner sees: ML servers exposed or started without protection, model
//! storage that can be swapped or stolen, GPU access that bypasses the device plugin, and models
//! fetched at start without integrity.

mod gpu_all_devices;
mod gpu_privileged_access;
mod ml_server_exposed;
mod ml_server_insecure_start;
mod model_fetched_insecurely;
mod model_revision_unpinned;
mod model_volume_shared;
mod model_volume_writable;
mod model_weights_on_host;
mod trust_remote_code;

use super::Rule;

pub static RULES: &[&Rule] = &[
    &ml_server_exposed::RULE,
    &ml_server_insecure_start::RULE,
    &trust_remote_code::RULE,
    &model_fetched_insecurely::RULE,
    &model_revision_unpinned::RULE,
    &model_volume_writable::RULE,
    &model_volume_shared::RULE,
    &model_weights_on_host::RULE,
    &gpu_privileged_access::RULE,
    &gpu_all_devices::RULE,
];
