//! The model-scan rules (`MDL001`…), one per file: each file holds the rule's metadata and its
//! documentation. The scanner ([`crate::scan`]) decides when each applies.

pub mod archive_header_mismatch;
pub mod format_disguised;
pub mod gguf_template_injection;
pub mod global_mutated;
pub mod hidden_data;
pub mod keras_foreign_module;
pub mod keras_lambda_layer;
pub mod numpy_object_array;
pub mod onnx_custom_operator;
pub mod onnx_external_data_escape;
pub mod pickle_dangerous_call;
pub mod pickle_dangerous_import;
pub mod pickle_malformed;
pub mod pickle_unlisted_call;
pub mod pickle_unlisted_import;
pub mod safetensors_invalid;
pub mod scan_incomplete;
pub mod tf_dangerous_op;
pub mod torchscript_file_access;

use palisade_core::RuleMeta;

/// Every model rule, in code order.
pub fn all() -> Vec<&'static RuleMeta> {
    vec![
        &pickle_dangerous_call::RULE,
        &pickle_unlisted_call::RULE,
        &pickle_dangerous_import::RULE,
        &pickle_unlisted_import::RULE,
        &pickle_malformed::RULE,
        &hidden_data::RULE,
        &archive_header_mismatch::RULE,
        &safetensors_invalid::RULE,
        &format_disguised::RULE,
        &scan_incomplete::RULE,
        &global_mutated::RULE,
        &numpy_object_array::RULE,
        &keras_lambda_layer::RULE,
        &keras_foreign_module::RULE,
        &onnx_external_data_escape::RULE,
        &onnx_custom_operator::RULE,
        &gguf_template_injection::RULE,
        &tf_dangerous_op::RULE,
        &torchscript_file_access::RULE,
    ]
}
