pub mod load;
pub mod workload;
pub mod yaml;
