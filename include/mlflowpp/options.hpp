#pragma once
/// @file options.hpp
/// Configuration of a Client: tracking URI, credentials, TLS, timeouts, the retry policy
/// and the asynchronous logger. Every field can be set in code; ClientOptions::from_env()
/// reads the same `MLFLOW_*` environment variables as MLflow's Python client
/// (see docs/env.md for the full list and defaults).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "mlflowpp/artifacts.hpp"

namespace mlflowpp {

/// How transient failures are retried: the Python client's policy (urllib3 Retry).
///
/// Retried: connection errors, timeouts and HTTP 408, 429, 500, 502, 503, 504 — except for
/// POSTs the server does not apply idempotently (creating a run or an experiment,
/// deleting a tag, ...), which are resent only on 408 and 429 and when the request never
/// reached the server, as MLflow 3.18's Python client does. TLS verification failures
/// and malformed URLs are not retried.
/// Before retry n (1-based) the client waits 0 s when n == 1, otherwise
/// `backoff_factor · 2^(n−1) + U[0, backoff_jitter)` seconds, capped at `max_backoff`;
/// a `Retry-After` header (seconds or an HTTP date) on a retried answer replaces the
/// computed wait when `respect_retry_after` is set (capped at `max_retry_after`).
/// With the defaults: 0, 4, 8, 16, 32, 64, 120 s — about four minutes in all.
struct RetryPolicy {
  int max_retries = 7;                            ///< MLFLOW_HTTP_REQUEST_MAX_RETRIES, 0..10
  double backoff_factor = 2.0;                    ///< MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, s, 0..120
  double backoff_jitter = 1.0;                    ///< MLFLOW_HTTP_REQUEST_BACKOFF_JITTER, s
  std::chrono::milliseconds max_backoff{120000};  ///< cap of one wait
  /// Cap of a wait the server asks for with Retry-After (urllib3's default: 6 hours).
  std::chrono::milliseconds max_retry_after{std::chrono::hours(6)};
  bool respect_retry_after = true;  ///< MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER
  /// Print one line to stderr per retry (what failed, which retry, how long the wait), as
  /// urllib3 logs a warning per retry in the Python client. MLFLOWPP_LOG_RETRIES.
  bool warn_on_retry = true;

  /// The wait before retry `retry_number` (1-based), given a uniform random `u` in [0, 1)
  /// for the jitter. Pure function; used by the client and by tests.
  std::chrono::milliseconds backoff(int retry_number, double u) const noexcept;
};

/// What the asynchronous logger does when its in-memory queue is full.
enum class OverflowPolicy {
  /// Refuse the new item and count it in LoggerStats::dropped_queue_full (never waits).
  kDropNewest,
  /// Wait for room, at most `LoggerOptions::block_timeout`, then drop and count (default).
  /// The queue fills only when logging outpaces the batching thread — which never waits on
  /// the network (it writes to the spool) — so the wait is the time that thread takes to
  /// take the queue over (milliseconds). The one bounded wait of a logging call: when
  /// a wait times out, later calls drop at once until the queue drains again.
  kBlock,
};

/// When the spool journal is flushed to stable storage (fdatasync).
enum class SpoolFsync {
  kNever,     ///< leave it to the kernel: survives a crash of the process, not of the machine
  kInterval,  ///< every 64 records or `SpoolOptions::fsync_interval`, run events at once (default)
  kAlways,    ///< after every record
};

/// The on-disk spool (docs/adr/0006-durable-logging.md). Every request the logger sends
/// (and every run event: started, ended, created offline) is first appended to a
/// zstd-compressed journal, then sent, then acknowledged in the journal. What the server
/// has not acknowledged survives an outage of any length, a full in-memory buffer, the
/// process's exit and a crash (SIGKILL): the next process logging to the same tracking
/// server replays it at start, in order, or `mlflowpp-sync <folder>` replays it into any
/// tracking server.
struct SpoolOptions {
  /// MLFLOWPP_SPOOL=0 turns it off: then transient failures that outlast the retry policy
  /// are dropped (counted), and runs cannot start offline.
  bool enabled = true;
  /// Root folder; each tracking server gets its own subfolder. Empty: MLFLOWPP_SPOOL_DIR,
  /// else $XDG_STATE_HOME/mlflowpp/spool, else ~/.local/state/mlflowpp/spool. Keep it on a
  /// local file system (journals are locked with flock).
  std::string dir;
  /// Cap of this process's journal, in bytes (MLFLOWPP_SPOOL_MAX_BYTES). Beyond it, new
  /// data is held in memory (max_buffered_bytes), then dropped with a counted reason.
  uint64_t max_bytes = 4ull << 30;
  SpoolFsync fsync = SpoolFsync::kInterval;  ///< MLFLOWPP_SPOOL_FSYNC = never | interval | always
  std::chrono::milliseconds fsync_interval{1000};
  /// A journal whose records are all delivered is replaced by a new one beyond this size.
  uint64_t rotate_bytes = 64ull << 20;
  /// At start, replay the journals that dead processes left for the same tracking server
  /// (on the logger's sender thread, never in the constructor). MLFLOWPP_SPOOL_REPLAY=0.
  bool replay_orphans = true;
  /// Longest wait between two delivery rounds while the server is unreachable (each round
  /// is a full RetryPolicy schedule).
  std::chrono::milliseconds max_retry_wait{30000};
};

/// Settings of the asynchronous (batching) logger.
struct LoggerOptions {
  /// Items (metrics, params, tags) the in-memory queue holds; preallocated. ≥ 16.
  std::size_t queue_capacity = 100000;
  /// Longest time an item waits in the queue before the worker sends it (unless a flush
  /// asks sooner). Larger values coalesce more points per request.
  std::chrono::milliseconds max_batch_delay{200};
  /// The worker is woken early once this many items are queued. ≥ 1. Woken so, it takes
  /// whole multiples of this many and leaves the rest queued for its next round (at most
  /// max_batch_delay more), so that a fast producer's points travel in full log-batch
  /// requests (the default matches MLflow's 1000 metrics per request).
  std::size_t wake_threshold = 1000;
  OverflowPolicy overflow_policy = OverflowPolicy::kBlock;
  std::chrono::milliseconds block_timeout{1000};  ///< only for OverflowPolicy::kBlock
  /// Budget, in serialized JSON bytes, of one log-batch request body (MLflow's documented
  /// limit is 1 MB). Batches are split to stay under it.
  std::size_t max_request_bytes = 900000;
  /// How long ActiveRun's end (and destructor) waits for the run's data to be delivered
  /// before it marks the run terminated anyway.
  std::chrono::milliseconds end_run_flush_timeout{std::chrono::minutes(5)};
  /// Print refused or dropped items to stderr when no error callback is set.
  bool report_errors_to_stderr = true;
  /// Request bodies held in memory between batching and sending (≥ max_request_bytes).
  /// Beyond it, bodies already in the spool are released and read back when their turn
  /// comes; without a spool, batching waits (and the queue absorbs the wait).
  std::size_t max_buffered_bytes = 16u << 20;
  SpoolOptions spool;
};

/// Everything a Client needs. The defaults match MLflow's Python client.
struct ClientOptions {
  /// MLFLOW_TRACKING_URI. `http(s)://host[:port][/path-prefix]`: an MLflow tracking server.
  /// `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, or empty (`./mlflow.db`,
  /// as the Python client): the embedded local store, which writes MLflow's own database
  /// and artifact folder (`./mlruns`) with no server (see docs/adr/0008).
  std::string tracking_uri;
  std::string username;          ///< MLFLOW_TRACKING_USERNAME (Basic auth when password is set too)
  std::string password;          ///< MLFLOW_TRACKING_PASSWORD; never logged
  std::string token;             ///< MLFLOW_TRACKING_TOKEN (Bearer; only when Basic is not configured)
  bool insecure_tls = false;     ///< MLFLOW_TRACKING_INSECURE_TLS: skip TLS verification
  std::string server_cert_path;  ///< MLFLOW_TRACKING_SERVER_CERT_PATH: CA bundle (PEM)
  std::string client_cert_path;  ///< MLFLOW_TRACKING_CLIENT_CERT_PATH: client cert (PEM, may hold the key)
  std::string client_key_path;   ///< MLFLOWPP_TRACKING_CLIENT_KEY_PATH: separate key file (PEM)
  std::chrono::milliseconds request_timeout{120000};  ///< MLFLOW_HTTP_REQUEST_TIMEOUT (s in env)
  std::chrono::milliseconds connect_timeout{30000};   ///< MLFLOWPP_CONNECT_TIMEOUT (s in env)
  bool allow_redirects = true;                        ///< MLFLOW_ALLOW_HTTP_REDIRECTS
  std::string workspace;                              ///< MLFLOW_WORKSPACE → X-MLFLOW-WORKSPACE header
  RetryPolicy retry;
  LoggerOptions logger;
  /// Transfer settings of the artifact calls that are not given their own
  /// (ArtifactOptions::from_env() in ClientOptions::from_env; defaults otherwise).
  ArtifactOptions artifacts;

  /// Reads every variable listed in docs/env.md (plus ~/.mlflow/credentials for the
  /// username and password, as the Python client does). Variables that are not set keep
  /// the defaults above. Throws InvalidArgumentError for malformed values (naming the
  /// variable), and when MLFLOW_TRACKING_INSECURE_TLS is combined with
  /// MLFLOW_TRACKING_SERVER_CERT_PATH (as Python does).
  static ClientOptions from_env();

  /// Checks the options (URI scheme http/https, retry bounds, logger sizes); throws
  /// InvalidArgumentError naming the field. Called by the Client constructor.
  void validate() const;
};

}  // namespace mlflowpp
