#include "test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "store/migrator.h"

namespace mm::testing {

std::string AdminDatabaseUrl() {
  const char* url = std::getenv("MM_TEST_DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    throw std::runtime_error(
        "MM_TEST_DATABASE_URL is not set: database tests need the PostgreSQL that scripts/test "
        "starts (run the tests with scripts/test)");
  }
  return url;
}

std::string WithDatabase(const std::string& url, const std::string& dbname) {
  if (url.rfind("postgres", 0) == 0 && url.find("://") != std::string::npos) {
    size_t start = url.find('/', url.find("://") + 3);
    size_t query = url.find('?');
    std::string tail = query == std::string::npos ? "" : url.substr(query);
    if (start == std::string::npos) return url + "/" + dbname + tail;
    return url.substr(0, start) + "/" + dbname + tail;
  }
  return url + " dbname=" + dbname;
}

std::unique_ptr<TestDatabase> TestDatabase::Create(std::string_view tag, bool migrate) {
  static std::atomic<int> counter{0};
  std::string admin = AdminDatabaseUrl();
  std::string name = "mm_test_" + std::string(tag) + "_" + std::to_string(getpid()) + "_" +
                     std::to_string(counter.fetch_add(1));
  {
    pqxx::connection conn(admin);
    pqxx::nontransaction txn(conn);
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(name) + " WITH (FORCE)");
    txn.exec("CREATE DATABASE " + txn.quote_name(name));
  }
  std::unique_ptr<TestDatabase> db(new TestDatabase(admin, name, WithDatabase(admin, name)));
  if (migrate) {
    auto migrations = store::PrepareMigrations(store::EmbeddedMigrationSources());
    if (!migrations.ok()) throw std::runtime_error(std::string(migrations.status().message()));
    auto report = store::ApplyMigrations(db->url(), *migrations);
    if (!report.ok()) throw std::runtime_error(std::string(report.status().message()));
  }
  return db;
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection conn(admin_url_);
    pqxx::nontransaction txn(conn);
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Leaving a test database behind is harmless; failing a passed test over it is not.
  }
}

pqxx::result TestDatabase::Query(const std::string& sql) const {
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  return txn.exec(sql);
}

std::string TestDatabase::Scalar(const std::string& sql) const {
  pqxx::result r = Query(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

}  // namespace mm::testing
