//! Rate limits shared by every guard replica, kept in Redis.
//!
//! The GCRA step runs inside Redis as one Lua script (atomic on the server, timed by Redis'
//! own clock so replicas with skewed clocks agree). The client is the few lines of RESP the
//! script needs — `SCRIPT LOAD` and `EVALSHA` over a small pool of connections — with a
//! timeout on every call. When Redis cannot answer in time the caller falls back to its
//! local limiter and counts the fallback: a Redis outage degrades sharing, never admission.

use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// KEYS[1] the tenant's key; ARGV[1] T and ARGV[2] τ in microseconds. Returns
/// `{admitted (1/0), retry-after µs}`.
const SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - now - tolerance}
end
local nxt = tat + interval
redis.call('SET', KEYS[1], nxt, 'PX', math.ceil((nxt - now) / 1000) + 1000)
return {1, 0}
"#;

/// `redis://host:port[/db]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub host: String,
    pub port: u16,
    pub db: u32,
}

impl Address {
    pub fn parse(url: &str) -> Result<Address, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("'{url}' must start with redis://"))?;
        let (hostport, db) = match rest.split_once('/') {
            Some((h, "")) => (h, 0),
            Some((h, d)) => (
                h,
                d.parse()
                    .map_err(|_| format!("'{url}': database '{d}' is not a number"))?,
            ),
            None => (rest, 0),
        };
        if hostport.contains('@') {
            return Err(format!("'{url}': credentials in the URL are not supported"));
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse()
                    .map_err(|_| format!("'{url}': port '{p}' is not a number"))?,
            ),
            None => (hostport, 6379),
        };
        if host.is_empty() {
            return Err(format!("'{url}' has no host"));
        }
        Ok(Address {
            host: host.to_string(),
            port,
            db,
        })
    }
}

/// One RESP reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

type Conn = BufReader<TcpStream>;

/// `read_reply` recurses into arrays, so its future is boxed.
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub struct Client {
    addr: Address,
    timeout: Duration,
    idle: Mutex<Vec<Conn>>,
    sha: Mutex<Option<String>>,
}

impl Client {
    pub fn new(addr: Address, timeout: Duration) -> Client {
        Client {
            addr,
            timeout,
            idle: Mutex::new(Vec::new()),
            sha: Mutex::new(None),
        }
    }

    /// One GCRA step for `key` in Redis: `Ok(Ok(()))` admitted, `Ok(Err(retry))` limited,
    /// `Err` when Redis could not answer.
    pub async fn gcra(
        &self,
        key: &str,
        interval_ns: u64,
        tolerance_ns: u64,
    ) -> Result<Result<(), Duration>, String> {
        tokio::time::timeout(
            self.timeout,
            self.gcra_inner(key, interval_ns, tolerance_ns),
        )
        .await
        .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))?
    }

    async fn gcra_inner(
        &self,
        key: &str,
        interval_ns: u64,
        tolerance_ns: u64,
    ) -> Result<Result<(), Duration>, String> {
        let interval = (interval_ns / 1000).max(1).to_string();
        let tolerance = (tolerance_ns / 1000).to_string();
        for attempt in 0..2 {
            let sha = self.script_sha().await?;
            let reply = self
                .call(&["EVALSHA", &sha, "1", key, &interval, &tolerance])
                .await?;
            match reply {
                Reply::Array(a) => {
                    return match a.as_slice() {
                        [Reply::Int(1), _] => Ok(Ok(())),
                        [Reply::Int(0), Reply::Int(us)] => {
                            Ok(Err(Duration::from_micros((*us).max(0) as u64)))
                        }
                        other => Err(format!("unexpected script reply {other:?}")),
                    };
                }
                Reply::Error(e) if e.starts_with("NOSCRIPT") && attempt == 0 => {
                    // Redis restarted or flushed its scripts: load it again.
                    *self.sha.lock().await = None;
                }
                other => return Err(format!("unexpected reply {other:?}")),
            }
        }
        Err("the script could not be loaded".into())
    }

    async fn script_sha(&self) -> Result<String, String> {
        let mut sha = self.sha.lock().await;
        if let Some(s) = &*sha {
            return Ok(s.clone());
        }
        match self.call(&["SCRIPT", "LOAD", SCRIPT]).await? {
            Reply::Bulk(Some(b)) => {
                let s = String::from_utf8_lossy(&b).into_owned();
                *sha = Some(s.clone());
                Ok(s)
            }
            other => Err(format!("SCRIPT LOAD answered {other:?}")),
        }
    }

    /// Sends one command on a pooled connection and reads its reply.
    pub async fn call(&self, args: &[&str]) -> Result<Reply, String> {
        let conn = self.idle.lock().await.pop();
        let mut conn = match conn {
            Some(c) => c,
            None => self.connect().await?,
        };
        let reply = roundtrip(&mut conn, args).await?;
        let mut idle = self.idle.lock().await;
        if idle.len() < 16 {
            idle.push(conn);
        }
        Ok(reply)
    }

    async fn connect(&self) -> Result<Conn, String> {
        let stream = TcpStream::connect((self.addr.host.as_str(), self.addr.port))
            .await
            .map_err(|e| {
                format!(
                    "cannot connect to {}:{}: {e}",
                    self.addr.host, self.addr.port
                )
            })?;
        stream.set_nodelay(true).ok();
        let mut conn = BufReader::new(stream);
        if self.addr.db != 0 {
            let db = self.addr.db.to_string();
            match roundtrip(&mut conn, &["SELECT", &db]).await? {
                Reply::Simple(_) => {}
                other => return Err(format!("SELECT {db} answered {other:?}")),
            }
        }
        Ok(conn)
    }
}

async fn roundtrip(conn: &mut Conn, args: &[&str]) -> Result<Reply, String> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).as_bytes());
        out.extend(a.as_bytes());
        out.extend(b"\r\n");
    }
    conn.get_mut()
        .write_all(&out)
        .await
        .map_err(|e| format!("write: {e}"))?;
    read_reply(conn, 0).await
}

fn read_reply(conn: &mut Conn, depth: usize) -> BoxFuture<'_, Result<Reply, String>> {
    Box::pin(async move {
        if depth > 4 {
            return Err("reply nested too deeply".into());
        }
        let mut line = String::new();
        let n = (&mut *conn)
            .take(64 * 1024)
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 || !line.ends_with("\r\n") {
            return Err("connection closed mid-reply".into());
        }
        let line = &line[..line.len() - 2];
        let (kind, rest) = line.split_at(1.min(line.len()));
        let int = || {
            rest.parse::<i64>()
                .map_err(|_| format!("bad length or integer '{rest}'"))
        };
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(int()?),
            "$" => {
                let len = int()?;
                if len < 0 {
                    Reply::Bulk(None)
                } else if len > 1 << 20 {
                    return Err(format!("bulk reply of {len} bytes is too large"));
                } else {
                    let mut buf = vec![0; len as usize + 2];
                    conn.read_exact(&mut buf)
                        .await
                        .map_err(|e| format!("read: {e}"))?;
                    buf.truncate(len as usize);
                    Reply::Bulk(Some(buf))
                }
            }
            "*" => {
                let len = int()?;
                if !(0..=1024).contains(&len) {
                    return Err(format!("array reply of {len} entries"));
                }
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(read_reply(conn, depth + 1).await?);
                }
                Reply::Array(items)
            }
            _ => return Err(format!("unknown reply type in '{line}'")),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            Address::parse("redis://127.0.0.1:6380/2").unwrap(),
            Address {
                host: "127.0.0.1".into(),
                port: 6380,
                db: 2
            }
        );
        assert_eq!(Address::parse("redis://cache").unwrap().port, 6379);
        assert!(Address::parse("http://x").is_err());
        assert!(
            Address::parse("redis://u:p@x")
                .unwrap_err()
                .contains("credentials")
        );
    }
}
