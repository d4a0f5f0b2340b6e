// End-to-end: optional TLS and mutual TLS on the gRPC and the HTTP port of the real binary, with
// a PKI the test makes with the `openssl` command line: a CA, a server certificate for
// 127.0.0.1/localhost, a client certificate from that CA, and a "rogue" CA with its own client
// certificate.

#include <sys/wait.h>

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <cstdio>
#include <cstdlib>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_helpers.h"
#include "membership_client.h"
#include "service_process.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;

// --- The PKI --------------------------------------------------------------------------------

std::string ShellQuote(const std::string& s) { return "'" + ReplaceAll(s, "'", "'\\''") + "'"; }

// Runs `command` in `dir`; throws with its output if it fails.
void Sh(const std::string& dir, const std::string& command) {
  std::string log = dir + "/openssl.log";
  std::string full = "cd " + ShellQuote(dir) + " && " + command + " >" + ShellQuote(log) + " 2>&1";
  if (std::system(full.c_str()) != 0) {
    throw std::runtime_error("failed: " + command + "\n" + ReadFile(log));
  }
}

struct Pki {
  std::string dir;
  std::string ca, server_cert, server_key, client_cert, client_key;
  std::string rogue_ca, rogue_cert, rogue_key;
  std::string garbage;  // a file that is no PEM at all

  std::string Path(const std::string& name) const { return dir + "/" + name; }
};

// A self-signed CA: <name>.crt, <name>.key (EC P-256: fast).
void MakeCa(const std::string& dir, const std::string& name) {
  Sh(dir, "openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + name +
              ".key -out " + name + ".crt -days 2 -subj '/CN=" + name +
              "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
}

// A leaf signed by CA `ca`: <name>.crt, <name>.key, with the extensions `ext` (one per line).
void MakeLeaf(const std::string& dir, const std::string& name, const std::string& ca, int serial,
              const std::string& ext) {
  std::ofstream(dir + "/" + name + ".ext") << ext;
  Sh(dir, "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + name +
              ".key -out " + name + ".csr -subj '/CN=" + name + "'");
  Sh(dir, "openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca + ".key -set_serial " +
              std::to_string(serial) + " -days 2 -sha256 -extfile " + name + ".ext -out " + name + ".crt");
}

Pki MakePki() {
  Pki pki;
  pki.dir = TempDir();
  MakeCa(pki.dir, "ca");
  MakeCa(pki.dir, "rogue-ca");
  MakeLeaf(pki.dir, "server", "ca", 2,
           "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
           "basicConstraints=critical,CA:FALSE\n");
  const std::string client_ext = "extendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\n";
  MakeLeaf(pki.dir, "client", "ca", 3, client_ext);
  MakeLeaf(pki.dir, "rogue-client", "rogue-ca", 4, client_ext);
  std::ofstream(pki.dir + "/garbage.pem") << "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                                          << "-----END CERTIFICATE-----\n";
  pki.ca = pki.Path("ca.crt");
  pki.server_cert = pki.Path("server.crt");
  pki.server_key = pki.Path("server.key");
  pki.client_cert = pki.Path("client.crt");
  pki.client_key = pki.Path("client.key");
  pki.rogue_ca = pki.Path("rogue-ca.crt");
  pki.rogue_cert = pki.Path("rogue-client.crt");
  pki.rogue_key = pki.Path("rogue-client.key");
  pki.garbage = pki.Path("garbage.pem");
  return pki;
}

const Pki& TestPki() {
  static const Pki* pki = new Pki(MakePki());
  return *pki;
}

// --- Clients --------------------------------------------------------------------------------

client::HttpClientOptions Https(const std::string& ca, const std::string& cert = "",
                                const std::string& key = "") {
  return {.timeout = std::chrono::seconds(5), .tls_ca_file = ca, .tls_cert_file = cert, .tls_key_file = key};
}

absl::StatusOr<client::HttpReply> PostSignedTls(const std::string& base_url, const std::string& body,
                                                const client::HttpClientOptions& options) {
  return client::HttpRequest("POST", base_url + "/webhooks/huudis",
                             {{"Content-Type", "application/json"},
                              {"Huudis-Signature", adapters::MakeHuudisSignatureHeader(kSecret, NowSeconds(), body)}},
                             body, options);
}

client::MembershipClient GrpcClient(const std::string& target, const std::string& ca,
                                    const std::string& cert = "", const std::string& key = "",
                                    const std::string& token = kCheckerToken) {
  return client::MembershipClient({.target = target,
                                   .token = token,
                                   .deadline = std::chrono::seconds(5),
                                   .tls_ca_file = ca,
                                   .tls_cert_file = cert,
                                   .tls_key_file = key});
}

grpc::Status IsUserActive(const client::MembershipClient& client, const std::string& user_id,
                          v1::IsUserActiveResponse* response, uint64_t min_sequence = 0) {
  v1::IsUserActiveRequest request;
  request.set_user_id(user_id);
  request.set_min_sequence(min_sequence);
  return client.IsUserActive(request, response);
}

bool WaitHttpsReady(const std::string& base_url, const client::HttpClientOptions& options) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto reply = client::HttpRequest("GET", base_url + "/readyz", {}, "", options);
    if (reply.ok() && reply->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Reads until the server ends the connection: what arrived, and how it ended.
template <class SyncStream>
std::pair<std::string, boost::system::error_code> ReadUntilClosed(SyncStream& stream) {
  std::string received;
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) {
    size_t n = stream.read_some(boost::asio::buffer(buf), ec);
    received.append(buf, n);
  }
  return {received, ec};
}

void ExpectProblem(const absl::StatusOr<client::HttpReply>& reply, int status, const std::string& detail) {
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, status) << reply->body;
  EXPECT_EQ(reply->content_type, "application/problem+json");
  json problem = json::parse(reply->body);
  EXPECT_EQ(problem["status"], status);
  EXPECT_EQ(problem["detail"], detail);
}

// --- Services -------------------------------------------------------------------------------

// One service per test program run (ctest runs each test alone), on a database of its own.
class TlsServiceTest : public SharedServiceTest {
 protected:
  // `mutual`: both ports also require client certificates from the test CA.
  static void StartService(bool mutual) {
    const Pki& pki = TestPki();
    db_ = TestDatabase::Create(mutual ? "e2e_mtls" : "e2e_tls").release();
    std::map<std::string, std::string> env = {
        {"MM_DATABASE_URL", db_->url()},
        {"MM_HUUDIS_SECRETS", kSecret},
        {"MM_CALLERS_FILE", WriteCallersFile(pki.dir)},
        {"MM_POLL_INTERVAL_MS", "100"},
        {"MM_HEADER_TIMEOUT_MS", "500"},
        {"MM_GRPC_TLS_CERT_FILE", pki.server_cert},
        {"MM_GRPC_TLS_KEY_FILE", pki.server_key},
        {"MM_HTTP_TLS_CERT_FILE", pki.server_cert},
        {"MM_HTTP_TLS_KEY_FILE", pki.server_key}};
    if (mutual) {
      env["MM_GRPC_TLS_CLIENT_CA_FILE"] = pki.ca;
      env["MM_HTTP_TLS_CLIENT_CA_FILE"] = pki.ca;
    }
    // ServiceProcess polls /readyz over plain HTTP; this port speaks TLS, so poll here.
    service_ = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env, .wait_ready = false}).release();
    if (!WaitHttpsReady(url(), Https(pki.ca))) {
      throw std::runtime_error("membership-mirror did not become ready over HTTPS:\n" + service_->Log());
    }
  }
  static void TearDownTestSuite() {
    delete service_;
    delete db_;
    service_ = nullptr;
    db_ = nullptr;
  }

  static std::string url() { return "https://127.0.0.1:" + std::to_string(service_->http_port()); }
  static const Pki& pki() { return TestPki(); }
  static int64_t StoredEvents() { return std::stoll(db_->Scalar("SELECT count(*) FROM provider_events")); }

  static TestDatabase* db_;
  static ServiceProcess* service_;
};
TestDatabase* TlsServiceTest::db_ = nullptr;
ServiceProcess* TlsServiceTest::service_ = nullptr;

class TlsE2ETest : public TlsServiceTest {
 protected:
  static void SetUpTestSuite() { GuardSuiteSetUp([] { StartService(/*mutual=*/false); }); }
};

class MtlsE2ETest : public TlsServiceTest {
 protected:
  static void SetUpTestSuite() { GuardSuiteSetUp([] { StartService(/*mutual=*/true); }); }
};

// --- TLS ------------------------------------------------------------------------------------

TEST_F(TlsE2ETest, GrpcOverTlsAnswersAndStillNeedsABearerToken) {
  v1::IsUserActiveResponse response;
  grpc::Status s = IsUserActive(GrpcClient(service_->grpc_target(), pki().ca), "usr_tls_probe", &response);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(response.active());
  EXPECT_EQ(response.state(), v1::USER_STATE_UNKNOWN);

  s = IsUserActive(GrpcClient(service_->grpc_target(), pki().ca, "", "", /*token=*/""), "usr_tls_probe", &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << "TLS does not replace caller auth";
}

TEST_F(TlsE2ETest, GrpcRefusesPlaintextAndUntrustedServers) {
  v1::IsUserActiveRequest request;
  request.set_user_id("usr_tls_probe");
  v1::IsUserActiveResponse response;
  grpc::Status plaintext = UserClient(service_->grpc_target(), kCheckerToken)
                               .IsUserActive(request, &response, std::chrono::seconds(3));
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE) << plaintext.error_message();
  grpc::Status untrusted = IsUserActive(GrpcClient(service_->grpc_target(), pki().rogue_ca), "usr_tls_probe", &response);
  EXPECT_EQ(untrusted.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a client trusting another CA refuses the server: " << untrusted.error_message();
}

TEST_F(TlsE2ETest, SignedWebhookOverHttpsIsAppliedAndVisibleOverGrpcTls) {
  auto reply = PostSignedTls(url(), FixtureFor("huudis.user.disabled.v1.json", "tls"), Https(pki().ca));
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->status, 200) << reply->body;
  json answer = json::parse(reply->body);
  EXPECT_EQ(answer["status"], "applied");

  v1::IsUserActiveResponse response;
  grpc::Status s = IsUserActive(GrpcClient(service_->grpc_target(), pki().ca), UserIdFor("tls"), &response,
                                answer["sequence"].get<uint64_t>());
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(response.active());
  EXPECT_EQ(response.state(), v1::USER_STATE_DISABLED);

  // The certificate names localhost too (verified as a DNS name, sent as SNI).
  std::string by_name = "https://localhost:" + std::to_string(service_->http_port());
  auto healthz = client::HttpRequest("GET", by_name + "/healthz", {}, "", Https(pki().ca));
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_EQ(healthz->status, 200);
}

TEST_F(TlsE2ETest, HttpsKeepsConnectionsAlive) {
  // Two pipelined requests on one TLS connection, both answered; the connection then ends at
  // the keep-alive idle limit (MM_HEADER_TIMEOUT_MS=500).
  namespace net = boost::asio;
  net::io_context ioc;
  net::ssl::context context(net::ssl::context::tls_client);
  context.load_verify_file(pki().ca);
  context.set_verify_mode(net::ssl::verify_peer);
  net::ssl::stream<net::ip::tcp::socket> stream(ioc, context);
  stream.next_layer().connect(
      {net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(service_->http_port())});
  stream.handshake(net::ssl::stream_base::client);
  net::write(stream, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                             "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")));
  auto [received, ec] = ReadUntilClosed(stream);
  size_t first = received.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << received;
  EXPECT_NE(received.find("HTTP/1.1 200", first + 1), std::string::npos) << received;
  EXPECT_EQ(received.find("Connection: close"), std::string::npos) << received;
}

TEST_F(TlsE2ETest, HttpsRefusesPlaintextUntrustedAndSilentClients) {
  std::string plain_url = "http://127.0.0.1:" + std::to_string(service_->http_port());
  auto plaintext = client::HttpRequest("GET", plain_url + "/healthz", {}, "", std::chrono::seconds(3));
  EXPECT_FALSE(plaintext.ok()) << "plain HTTP to the TLS port got an answer: " << plaintext->status;

  auto untrusted = client::HttpRequest("GET", url() + "/healthz", {}, "", Https(pki().rogue_ca));
  ASSERT_FALSE(untrusted.ok()) << "the client must not trust a server its CA did not sign";
  EXPECT_NE(std::string(untrusted.status().message()).find("certificate verify failed"), std::string::npos)
      << untrusted.status();

  // A connection that never starts the handshake is cut off at the header deadline (500 ms).
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(service_->http_port())});
  auto started = std::chrono::steady_clock::now();
  auto [received, ec] = ReadUntilClosed(socket);
  EXPECT_EQ(received, "");
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));

  // None of that hurt the server.
  auto healthz = client::HttpRequest("GET", url() + "/healthz", {}, "", Https(pki().ca));
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_EQ(healthz->status, 200);
}

// --- mTLS -----------------------------------------------------------------------------------

TEST_F(MtlsE2ETest, GrpcNeedsAClientCertificateFromTheClientCa) {
  const std::string target = service_->grpc_target();
  v1::IsUserActiveResponse response;
  grpc::Status none = IsUserActive(GrpcClient(target, pki().ca), "usr_mtls_probe", &response);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAVAILABLE) << "no client certificate: " << none.error_message();
  grpc::Status rogue =
      IsUserActive(GrpcClient(target, pki().ca, pki().rogue_cert, pki().rogue_key), "usr_mtls_probe", &response);
  EXPECT_EQ(rogue.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a client certificate from another CA: " << rogue.error_message();
  grpc::Status right =
      IsUserActive(GrpcClient(target, pki().ca, pki().client_cert, pki().client_key), "usr_mtls_probe", &response);
  ASSERT_TRUE(right.ok()) << right.error_code() << " " << right.error_message();
  EXPECT_TRUE(response.active());
  grpc::Status no_token = IsUserActive(GrpcClient(target, pki().ca, pki().client_cert, pki().client_key, ""),
                                       "usr_mtls_probe", &response);
  EXPECT_EQ(no_token.error_code(), grpc::StatusCode::UNAUTHENTICATED) << "mTLS does not replace caller auth";
}

TEST_F(MtlsE2ETest, HttpWithoutAClientCertificateServesOnlyProbes) {
  const int64_t stored_before = StoredEvents();
  auto webhook = PostSignedTls(url(), FixtureFor("huudis.user.disabled.v1.json", "nocert"), Https(pki().ca));
  ExpectProblem(webhook, 401, "client certificate required");
  auto operator_api = client::HttpRequest("GET", url() + "/v1/users/usr_x", {}, "", Https(pki().ca));
  ExpectProblem(operator_api, 401, "client certificate required");
  auto post_probe = client::HttpRequest("POST", url() + "/readyz", {}, "", Https(pki().ca));
  ExpectProblem(post_probe, 401, "client certificate required");
  EXPECT_EQ(StoredEvents(), stored_before) << "nothing reaches the handler";

  // Kubelet probes and Prometheus carry no client certificate.
  for (const char* path : {"/readyz", "/healthz", "/metrics", "/readyz?verbose=1"}) {
    auto probe = client::HttpRequest("GET", url() + path, {}, "", Https(pki().ca));
    ASSERT_TRUE(probe.ok()) << path << ": " << probe.status();
    EXPECT_EQ(probe->status, 200) << path << ": " << probe->body;
  }
}

TEST_F(MtlsE2ETest, HttpAcceptsOnlyClientCertificatesFromTheClientCa) {
  auto rogue = PostSignedTls(url(), FixtureFor("huudis.user.disabled.v1.json", "rogue"),
                             Https(pki().ca, pki().rogue_cert, pki().rogue_key));
  EXPECT_FALSE(rogue.ok()) << "a client certificate from another CA fails the handshake: " << rogue->status;

  auto right = PostSignedTls(url(), FixtureFor("huudis.user.disabled.v1.json", "mtls"),
                             Https(pki().ca, pki().client_cert, pki().client_key));
  ASSERT_TRUE(right.ok()) << right.status();
  ASSERT_EQ(right->status, 200) << right->body;
  EXPECT_EQ(json::parse(right->body)["status"], "applied");
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM provider_events WHERE event_id LIKE '%_rogue'"), "0");
}

// --- Settings -------------------------------------------------------------------------------

using Exit = CommandResult;

Exit RunServe(const std::map<std::string, std::string>& env, const std::string& extra_args = "") {
  std::string command = "timeout 20 env -i";
  for (const auto& [name, value] : env) command += " " + name + "=" + ShellQuote(value);
  return RunCommand(command + " " + ShellQuote(MM_SERVER_BINARY) + " serve" + extra_args);
}

TEST(TlsSettingsE2ETest, HelpListsTheTlsSettings) {
  Exit help = RunServe({}, " --help");
  EXPECT_EQ(help.code, 0) << help.output;
  for (const char* name : {"MM_GRPC_TLS_CERT_FILE", "MM_GRPC_TLS_KEY_FILE", "MM_GRPC_TLS_CLIENT_CA_FILE",
                           "MM_HTTP_TLS_CERT_FILE", "MM_HTTP_TLS_KEY_FILE", "MM_HTTP_TLS_CLIENT_CA_FILE",
                           "--grpc-tls-cert-file", "--http-tls-client-ca-file"}) {
    EXPECT_NE(help.output.find(name), std::string::npos) << name;
  }
}

TEST(TlsSettingsE2ETest, InvalidTlsSettingsExitWithCode2BeforeListening) {
  const Pki& pki = TestPki();
  auto db = TestDatabase::Create("e2e_tlscfg", /*migrate=*/false);
  struct Case {
    std::map<std::string, std::string> tls;
    std::string named;  // the setting the error must name
  };
  const std::vector<Case> cases = {
      {{{"MM_GRPC_TLS_CERT_FILE", pki.server_cert}}, "MM_GRPC_TLS_KEY_FILE"},
      {{{"MM_HTTP_TLS_KEY_FILE", pki.server_key}}, "MM_HTTP_TLS_CERT_FILE"},
      {{{"MM_HTTP_TLS_CLIENT_CA_FILE", pki.ca}}, "MM_HTTP_TLS_CLIENT_CA_FILE"},
      {{{"MM_GRPC_TLS_CERT_FILE", pki.Path("missing.crt")}, {"MM_GRPC_TLS_KEY_FILE", pki.server_key}},
       "MM_GRPC_TLS_CERT_FILE"},
      {{{"MM_HTTP_TLS_CERT_FILE", pki.server_cert}, {"MM_HTTP_TLS_KEY_FILE", pki.Path("missing.key")}},
       "MM_HTTP_TLS_KEY_FILE"},
      {{{"MM_GRPC_TLS_CERT_FILE", pki.garbage}, {"MM_GRPC_TLS_KEY_FILE", pki.server_key}},
       "MM_GRPC_TLS_CERT_FILE"},
      {{{"MM_HTTP_TLS_CERT_FILE", pki.server_cert}, {"MM_HTTP_TLS_KEY_FILE", pki.garbage}},
       "MM_HTTP_TLS_KEY_FILE"},
      {{{"MM_HTTP_TLS_CERT_FILE", pki.server_cert},
        {"MM_HTTP_TLS_KEY_FILE", pki.server_key},
        {"MM_HTTP_TLS_CLIENT_CA_FILE", pki.garbage}},
       "MM_HTTP_TLS_CLIENT_CA_FILE"},
      {{{"MM_GRPC_TLS_CERT_FILE", pki.server_cert}, {"MM_GRPC_TLS_KEY_FILE", pki.client_key}},
       "MM_GRPC_TLS_KEY_FILE"},  // the key of another certificate
  };
  for (const Case& c : cases) {
    std::map<std::string, std::string> env = {{"MM_DATABASE_URL", db->url()},
                                              {"MM_INSECURE_NO_AUTH", "1"},
                                              {"MM_HTTP_LISTEN", "127.0.0.1:0"},
                                              {"MM_GRPC_LISTEN", "127.0.0.1:0"}};
    env.insert(c.tls.begin(), c.tls.end());
    Exit run = RunServe(env);
    std::string what = ::testing::PrintToString(c.tls);
    EXPECT_EQ(run.code, 2) << what << "\n" << run.output;
    EXPECT_NE(run.output.find(c.named), std::string::npos) << what << ": the error names the setting\n"
                                                           << run.output;
    EXPECT_EQ(run.output.find("\"listening\""), std::string::npos) << what << "\n" << run.output;
  }
}

}  // namespace
}  // namespace mm::testing
