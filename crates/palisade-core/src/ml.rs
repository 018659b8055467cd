//! Recognising ML servers and control planes from how they are started, and the launch options
//! that switch their protection off.
//!
//! A server is identified by its image and its command line — never by a port number alone
//! (port 8888 is as often a custom API as it is Jupyter). Both the Kubernetes rules (container
//! `image`, `command`, `args`, `env`) and the Dockerfile rules (base image, `CMD`/`ENTRYPOINT`,
//! `ENV`) describe a start as a [`Launch`] and ask [`identify`] and [`insecure_options`].

use crate::image::{parse_image, repository};
use crate::shell;

/// An ML server or control plane Palisade knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Jupyter,
    RayHead,
    Mlflow,
    TorchServe,
    Triton,
    TfServing,
    Vllm,
    Tgi,
    Ollama,
    Sglang,
}

impl Server {
    /// The name users know it by.
    pub fn label(self) -> &'static str {
        match self {
            Server::Jupyter => "Jupyter",
            Server::RayHead => "Ray head",
            Server::Mlflow => "MLflow tracking server",
            Server::TorchServe => "TorchServe",
            Server::Triton => "Triton Inference Server",
            Server::TfServing => "TensorFlow Serving",
            Server::Vllm => "vLLM",
            Server::Tgi => "Text Generation Inference",
            Server::Ollama => "Ollama",
            Server::Sglang => "SGLang",
        }
    }

    /// Its well-known ports and what each serves.
    pub fn ports(self) -> &'static [(u16, &'static str)] {
        match self {
            Server::Jupyter => &[(8888, "notebook server")],
            Server::RayHead => &[
                (8265, "dashboard and job submission API"),
                (10001, "Ray client server"),
                (6379, "GCS"),
                (8000, "Ray Serve HTTP"),
            ],
            Server::Mlflow => &[(5000, "tracking server and model registry")],
            Server::TorchServe => &[
                (8080, "inference API"),
                (8081, "management API"),
                (8082, "metrics API"),
                (7070, "gRPC inference API"),
                (7071, "gRPC management API"),
            ],
            Server::Triton => &[
                (8000, "HTTP inference API"),
                (8001, "gRPC inference API"),
                (8002, "metrics"),
            ],
            Server::TfServing => &[(8500, "gRPC API"), (8501, "REST API")],
            Server::Vllm | Server::Sglang => &[
                (8000, "OpenAI-compatible API"),
                (30000, "OpenAI-compatible API"),
            ],
            Server::Tgi => &[(80, "generation API"), (8080, "generation API")],
            Server::Ollama => &[(11434, "model API")],
        }
    }

    /// What the given port of this server serves (`None` for a port it does not list).
    pub fn port_role(self, port: u16) -> Option<&'static str> {
        self.ports()
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, r)| *r)
    }

    /// ATLAS techniques an exposure of this server enables.
    pub fn exposure_techniques(self) -> &'static [&'static str] {
        match self {
            // Code execution: notebooks run arbitrary code, Ray takes job submissions,
            // TorchServe's management API registers model archives (which run code).
            Server::Jupyter | Server::RayHead | Server::TorchServe => {
                &["AML.T0049", "AML.T0050", "AML.T0035", "T1133"]
            }
            Server::Mlflow => &["AML.T0049", "AML.T0035", "AML.T0018", "T1133"],
            Server::Triton => &["AML.T0049", "AML.T0040", "AML.T0024", "T1133"],
            _ => &["AML.T0040", "AML.T0024", "AML.T0034", "T1133"],
        }
    }
}

/// How a process is started: its image, its full command line and its environment. It owns
/// its text, so an analyser can build it once per container and keep it.
#[derive(Debug, Default, Clone)]
pub struct Launch {
    pub image: Option<String>,
    /// Every word of the command line (command then arguments). A `sh -c SCRIPT` is read as
    /// the words of SCRIPT's commands.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// A launch from an exec-form argument list; `sh -c` scripts are split into their words.
    pub fn new(image: Option<&str>, argv: &[&str], env: Vec<(&str, &str)>) -> Self {
        Launch {
            image: image.map(str::to_string),
            argv: flatten(argv),
            env: env
                .into_iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The value of an environment variable.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|e| e.1.as_str())
    }

    /// The value of `--flag=value`, `--flag value` (any of `names`), with the index of the word.
    pub fn flag(&self, names: &[&str]) -> Option<(usize, &str)> {
        flag_value(&self.argv, names)
    }

    /// Whether a bare flag (or `--flag=true`) is present.
    pub fn has_flag(&self, names: &[&str]) -> Option<usize> {
        self.argv.iter().position(|w| {
            names.iter().any(|n| {
                w == n
                    || w.strip_prefix(n)
                        .and_then(|r| r.strip_prefix('='))
                        .is_some_and(is_true)
            })
        })
    }

    fn has_word(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.argv.iter().any(|w| pred(program_name(w)))
    }

    /// Whether the words contain `a` directly followed by one of `next`.
    fn has_pair(&self, a: &str, next: &[&str]) -> bool {
        self.argv
            .windows(2)
            .any(|w| program_name(&w[0]) == a && next.contains(&w[1].as_str()))
    }
}

fn program_name(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

fn is_true(v: &str) -> bool {
    matches!(
        v.trim_matches(|c| c == '\'' || c == '"')
            .to_ascii_lowercase()
            .as_str(),
        "true" | "1" | "yes" | "on"
    )
}

/// Whether a value is empty once quotes are taken off (`''`, `""`, nothing).
fn is_empty_value(v: &str) -> bool {
    v.trim_matches(|c| c == '\'' || c == '"').is_empty()
}

/// `--flag=value` or `--flag value` among `argv`, for any of `names`.
pub fn flag_value<'w>(argv: &'w [String], names: &[&str]) -> Option<(usize, &'w str)> {
    for (i, w) in argv.iter().enumerate() {
        for n in names {
            if let Some(rest) = w.strip_prefix(n) {
                if let Some(v) = rest.strip_prefix('=') {
                    return Some((i, v));
                }
                if rest.is_empty()
                    && let Some(v) = argv.get(i + 1)
                    && !v.starts_with("--")
                {
                    return Some((i, v));
                }
            }
        }
    }
    None
}

/// Split a command line into words, reading `sh -c SCRIPT` as SCRIPT's words.
pub fn flatten(argv: &[&str]) -> Vec<String> {
    match shell::shell_c_script(argv) {
        Some((i, script)) => {
            let mut out: Vec<String> = argv[..i - 1].iter().map(|s| s.to_string()).collect();
            for c in shell::parse(&script) {
                out.extend(c.words.into_iter().map(|w| w.text));
            }
            out.extend(argv[i + 1..].iter().map(|s| s.to_string()));
            out
        }
        None => argv.iter().map(|s| s.to_string()).collect(),
    }
}

/// Which server this launch starts, if Palisade knows it. The command line decides first (an
/// image may hold several tools); the image name decides when the command is the image's own.
pub fn identify(l: &Launch) -> Option<Server> {
    // By command line.
    if l.has_pair("jupyter", &["lab", "notebook", "server", "nbclassic"])
        || l.has_word(|w| {
            matches!(
                w,
                "jupyter-lab"
                    | "jupyter-notebook"
                    | "jupyter-server"
                    | "start-notebook.sh"
                    | "start-notebook.py"
            )
        })
    {
        return Some(Server::Jupyter);
    }
    if l.has_pair("ray", &["start"]) && l.has_flag(&["--head"]).is_some() {
        return Some(Server::RayHead);
    }
    if l.has_pair("mlflow", &["server", "ui"]) {
        return Some(Server::Mlflow);
    }
    if l.has_word(|w| w == "torchserve") && l.has_flag(&["--start"]).is_some() {
        return Some(Server::TorchServe);
    }
    if l.has_word(|w| w == "tritonserver") {
        return Some(Server::Triton);
    }
    if l.has_word(|w| w == "tensorflow_model_server") {
        return Some(Server::TfServing);
    }
    if l.has_pair("vllm", &["serve"]) || l.has_word(|w| w.starts_with("vllm.entrypoints")) {
        return Some(Server::Vllm);
    }
    if l.has_word(|w| w == "text-generation-launcher") {
        return Some(Server::Tgi);
    }
    if l.has_pair("ollama", &["serve"]) {
        return Some(Server::Ollama);
    }
    if l.has_word(|w| w.starts_with("sglang.launch_server")) {
        return Some(Server::Sglang);
    }
    // A command line that runs something else (a custom app in a server image) is not the
    // server, unless it only passes flags to the image's entrypoint.
    let own_command = l.argv.first().is_none_or(|w| w.starts_with('-'));
    let repo = l
        .image
        .as_deref()
        .map(|i| repository(parse_image(i).0).to_ascii_lowercase())?;
    let by_image = identify_image(&repo)?;
    if own_command || runs_image_tool(&l.argv, by_image) {
        Some(by_image)
    } else {
        None
    }
}

/// The server an image ships as its entrypoint, by repository name.
pub fn identify_image(repo: &str) -> Option<Server> {
    let short = repo.rsplit('/').next().unwrap_or(repo);
    let has = |s: &str| repo.contains(s);
    if has("jupyterhub") || has("web-app") || has("controller") || has("operator") || has("webhook")
    {
        return None;
    }
    if repo.starts_with("jupyter/")
        || repo.contains("/jupyter/")
        || short.starts_with("jupyter")
        || short.ends_with("-notebook") && (has("jupyter") || has("notebook"))
    {
        return Some(Server::Jupyter);
    }
    if short == "tritonserver" {
        return Some(Server::Triton);
    }
    if repo == "tensorflow/serving" || short == "tensorflow-serving" {
        return Some(Server::TfServing);
    }
    if short.starts_with("torchserve") {
        return Some(Server::TorchServe);
    }
    if short == "vllm-openai" || short == "vllm" || short.starts_with("vllm-") {
        return Some(Server::Vllm);
    }
    if short == "text-generation-inference" {
        return Some(Server::Tgi);
    }
    if repo == "ollama/ollama" || short == "ollama" {
        return Some(Server::Ollama);
    }
    if short == "sglang" {
        return Some(Server::Sglang);
    }
    if short == "mlflow" {
        return Some(Server::Mlflow);
    }
    None
}

/// Whether `argv` runs the image's own server under a shell or wrapper
/// (`["/bin/sh", "-c", "tritonserver --model-repository=…"]` was already matched by command).
fn runs_image_tool(argv: &[String], s: Server) -> bool {
    let first = argv.first().map(|w| program_name(w)).unwrap_or("");
    // Jupyter stacks' start scripts and `tini -g -- start-notebook.sh`.
    s == Server::Jupyter && matches!(first, "tini" | "start.sh")
}

/// One launch option that switches a protection off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsecureOption {
    /// Index into `Launch::argv` of the word that does it (None: an environment variable).
    pub arg: Option<usize>,
    /// The environment variable that does it.
    pub env: Option<String>,
    /// What it does, for the message.
    pub what: String,
    /// Whoever reaches the server runs code: no authentication is left at all.
    pub critical: bool,
}

fn opt_arg(i: usize, what: impl Into<String>) -> InsecureOption {
    InsecureOption {
        arg: Some(i),
        env: None,
        what: what.into(),
        critical: false,
    }
}

fn opt_env(name: &str, what: impl Into<String>) -> InsecureOption {
    InsecureOption {
        arg: None,
        env: Some(name.to_string()),
        what: what.into(),
        critical: false,
    }
}

impl InsecureOption {
    /// Mark it as leaving no authentication at all.
    fn critical(mut self) -> Self {
        self.critical = true;
        self
    }
}

/// Options that remove a server's authentication or bind an unauthenticated control plane to
/// every interface. `bind_matters` is false inside Kubernetes, where a server must listen on
/// all interfaces to be reached through its Service (exposure is judged by `K8S100` instead).
pub fn insecure_options(s: Server, l: &Launch, bind_matters: bool) -> Vec<InsecureOption> {
    let mut out = Vec::new();
    let all_interfaces = |v: &str| matches!(v.trim_matches(['\'', '"']), "0.0.0.0" | "::" | "*");
    match s {
        Server::Jupyter => {
            let token = l.flag(&[
                "--NotebookApp.token",
                "--ServerApp.token",
                "--IdentityProvider.token",
            ]);
            let password = l.flag(&[
                "--NotebookApp.password",
                "--ServerApp.password",
                "--PasswordIdentityProvider.hashed_password",
            ]);
            let no_password = password.is_none_or(|(_, v)| is_empty_value(v));
            match (token, l.env("JUPYTER_TOKEN")) {
                (Some((i, v)), _) if is_empty_value(v) && no_password => {
                    out.push(
                        opt_arg(
                            i,
                            "an empty token and no password: anyone who reaches it runs code",
                        )
                        .critical(),
                    );
                }
                (None, Some(v)) if is_empty_value(v) && no_password => {
                    out.push(opt_env(
                        "JUPYTER_TOKEN",
                        "an empty JUPYTER_TOKEN and no password: anyone who reaches it runs code",
                    ).critical());
                }
                _ => {}
            }
            if let Some(i) = l.has_flag(&[
                "--NotebookApp.disable_check_xsrf",
                "--ServerApp.disable_check_xsrf",
            ]) {
                out.push(opt_arg(i, "its cross-site request forgery check disabled"));
            }
            if let Some(i) = l.has_flag(&["--allow-root"]) {
                out.push(opt_arg(
                    i,
                    "--allow-root: notebook code runs with root rights",
                ));
            }
            if bind_matters
                && let Some((i, v)) = l.flag(&["--ip", "--NotebookApp.ip", "--ServerApp.ip"])
                && all_interfaces(v)
                && out.iter().any(|o| o.critical)
            {
                out.push(opt_arg(
                    i,
                    format!("the token-less notebook bound to every interface ({v})"),
                ));
            }
        }
        Server::TorchServe => {
            if let Some(i) = l.has_flag(&["--disable-token-auth"]) {
                out.push(opt_arg(i, "token authorization disabled (--disable-token-auth): anyone who reaches the management API registers models, which run code").critical());
            }
            if let Some(v) = l.env("TS_DISABLE_TOKEN_AUTHORIZATION")
                && is_true(v)
            {
                out.push(opt_env("TS_DISABLE_TOKEN_AUTHORIZATION", "token authorization disabled (TS_DISABLE_TOKEN_AUTHORIZATION): anyone who reaches the management API registers models, which run code").critical());
            }
            let no_token = out.iter().any(|o| o.critical);
            if let Some(i) = l.has_flag(&["--enable-model-api"])
                && no_token
            {
                out.push(opt_arg(
                    i,
                    "model registration through the management API enabled (--enable-model-api) and no token",
                ));
            } else if let Some(v) = l.env("TS_ENABLE_MODEL_API")
                && is_true(v)
                && no_token
            {
                out.push(opt_env(
                    "TS_ENABLE_MODEL_API",
                    "model registration through the management API enabled and no token",
                ));
            }
        }
        Server::Mlflow if bind_matters => {
            let basic_auth = l
                .flag(&["--app-name"])
                .is_some_and(|(_, v)| v == "basic-auth");
            if let Some((i, v)) = l.flag(&["--host", "-h"])
                && all_interfaces(v)
                && !basic_auth
            {
                out.push(opt_arg(i, format!("the server bound to every interface ({v}) without authentication (--app-name basic-auth): anyone who reaches it reads and replaces models")).critical());
            }
        }
        Server::RayHead if bind_matters => {
            if let Some((i, v)) = l.flag(&["--dashboard-host"])
                && all_interfaces(v)
            {
                out.push(opt_arg(i, format!("the dashboard bound to every interface ({v}): it has no authentication and accepts job submissions (remote code execution, CVE-2023-48022)")));
            }
        }
        Server::Triton => {
            if let Some((i, v)) = l.flag(&["--model-control-mode"])
                && v == "explicit"
            {
                out.push(opt_arg(i, "--model-control-mode=explicit: any client loads and unloads models through the repository API"));
            }
        }
        _ => {}
    }
    out
}

/// Whether an OpenAI-style server requires an API key.
pub fn has_api_key(s: Server, l: &Launch) -> bool {
    match s {
        Server::Vllm => l.flag(&["--api-key"]).is_some() || l.env("VLLM_API_KEY").is_some(),
        Server::Sglang => l.flag(&["--api-key"]).is_some(),
        Server::Tgi => l.flag(&["--api-key"]).is_some() || l.env("API_KEY").is_some(),
        Server::Ollama => false,
        _ => true,
    }
}

/// Where the launch lets model code from the hub run: `--trust-remote-code`,
/// `trust_remote_code=True`, `TRUST_REMOTE_CODE=true`.
pub fn trust_remote_code(l: &Launch) -> Option<InsecureOption> {
    if let Some(i) = l.argv.iter().position(|w| {
        let w = w.to_ascii_lowercase();
        w == "--trust-remote-code"
            || w == "--trust_remote_code"
            || ["--trust-remote-code=", "--trust_remote_code="]
                .iter()
                .any(|p| w.strip_prefix(p).is_some_and(is_true))
            || w.replace(' ', "").contains("trust_remote_code=true")
    }) {
        return Some(opt_arg(
            i,
            "trust_remote_code enabled (runs the Python code shipped in the model repository)",
        ));
    }
    for name in [
        "TRUST_REMOTE_CODE",
        "HF_TRUST_REMOTE_CODE",
        "VLLM_TRUST_REMOTE_CODE",
    ] {
        if l.env(name).is_some_and(is_true) {
            return Some(opt_env(
                name,
                "trust_remote_code enabled (runs the Python code shipped in the model repository)",
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(image: Option<&str>, argv: &[&str]) -> Launch {
        Launch::new(image, argv, vec![])
    }

    #[test]
    fn identifies_by_command_and_image() {
        let l = launch(
            Some("python:3.11"),
            &["sh", "-c", "pip install x && jupyter lab --ip=0.0.0.0"],
        );
        assert_eq!(identify(&l), Some(Server::Jupyter));
        let l = launch(Some("rayproject/ray:2.9.0"), &["ray", "start", "--head"]);
        assert_eq!(identify(&l), Some(Server::RayHead));
        let l = launch(
            Some("rayproject/ray:2.9.0"),
            &["ray", "start", "--address=x"],
        );
        assert_eq!(identify(&l), None);
        let l = launch(Some("nvcr.io/nvidia/tritonserver:24.01-py3"), &[]);
        assert_eq!(identify(&l), Some(Server::Triton));
        // A custom app in a server image is not the server.
        let l = launch(
            Some("nvcr.io/nvidia/tritonserver:24.01"),
            &["python", "app.py"],
        );
        assert_eq!(identify(&l), None);
        // Kubeflow's web app is not a notebook.
        let l = launch(Some("kubeflownotebookswg/jupyter-web-app:v1.9"), &[]);
        assert_eq!(identify(&l), None);
        let l = launch(Some("kubeflownotebookswg/jupyter-scipy:v1.9"), &[]);
        assert_eq!(identify(&l), Some(Server::Jupyter));
        // Port numbers alone identify nothing.
        let l = launch(
            Some("myorg/api:1"),
            &["python", "serve.py", "--port", "8888"],
        );
        assert_eq!(identify(&l), None);
    }

    #[test]
    fn insecure_jupyter_and_torchserve() {
        let l = launch(
            None,
            &[
                "jupyter",
                "notebook",
                "--NotebookApp.token=''",
                "--ip=0.0.0.0",
                "--allow-root",
            ],
        );
        let found = insecure_options(Server::Jupyter, &l, true);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].arg, Some(2));
        let l = launch(
            None,
            &[
                "jupyter",
                "notebook",
                "--NotebookApp.token=abc",
                "--ip=0.0.0.0",
            ],
        );
        assert!(insecure_options(Server::Jupyter, &l, true).is_empty());
        let l = launch(None, &["torchserve", "--start", "--disable-token-auth"]);
        assert_eq!(insecure_options(Server::TorchServe, &l, true).len(), 1);
    }

    #[test]
    fn mlflow_and_ray_binding() {
        let l = launch(None, &["mlflow", "server", "--host", "0.0.0.0"]);
        assert_eq!(insecure_options(Server::Mlflow, &l, true).len(), 1);
        assert!(insecure_options(Server::Mlflow, &l, false).is_empty());
        let l = launch(
            None,
            &[
                "mlflow",
                "server",
                "--host",
                "0.0.0.0",
                "--app-name",
                "basic-auth",
            ],
        );
        assert!(insecure_options(Server::Mlflow, &l, true).is_empty());
        let l = launch(
            None,
            &["ray", "start", "--head", "--dashboard-host=0.0.0.0"],
        );
        assert_eq!(insecure_options(Server::RayHead, &l, true).len(), 1);
    }

    #[test]
    fn trust_remote_code_forms() {
        for argv in [
            &["vllm", "serve", "m", "--trust-remote-code"][..],
            &[
                "python",
                "-c",
                "AutoModel.from_pretrained('m', trust_remote_code=True)",
            ],
            &["x", "--trust_remote_code=true"],
        ] {
            assert!(trust_remote_code(&launch(None, argv)).is_some(), "{argv:?}");
        }
        assert!(trust_remote_code(&launch(None, &["x", "--trust-remote-code=false"])).is_none());
        let l = Launch::new(None, &["x"], vec![("TRUST_REMOTE_CODE", "true")]);
        assert!(trust_remote_code(&l).is_some());
    }
}
