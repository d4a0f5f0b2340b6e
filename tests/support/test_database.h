#pragma once
// A fresh PostgreSQL database per test fixture, on the server the test scripts start.
// MM_TEST_DATABASE_URL must point at that server with a role that may CREATE DATABASE (the
// `postgres` database is fine); scripts/test sets it. When it is missing the test FAILS — a
// skipped database test would read as green.

#include <memory>
#include <string>
#include <string_view>

#include <pqxx/pqxx>

namespace mm::testing {

class TestDatabase {
 public:
  // Creates mm_test_<tag>_<pid>_<n> and, if `migrate`, applies the embedded migrations.
  // Throws std::runtime_error (failing the test) if the server is not configured or reachable.
  static std::unique_ptr<TestDatabase> Create(std::string_view tag, bool migrate = true);
  ~TestDatabase();  // drops the database (terminating leftover connections)

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  // Runs SQL on a fresh connection and returns the result (for assertions).
  pqxx::result Query(const std::string& sql) const;
  // First column of the first row as text ("" if NULL).
  std::string Scalar(const std::string& sql) const;

 private:
  TestDatabase(std::string admin_url, std::string name, std::string url)
      : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}
  std::string admin_url_, name_, url_;
};

// The admin URL from MM_TEST_DATABASE_URL, or throws.
std::string AdminDatabaseUrl();
// `url` with its database name replaced by `dbname` (URI or key=value form).
std::string WithDatabase(const std::string& url, const std::string& dbname);

}  // namespace mm::testing
