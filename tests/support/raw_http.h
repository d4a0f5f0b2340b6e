#pragma once
// HTTP the way a hostile or careless sender speaks it: bytes written on a fresh loopback
// connection exactly as given (no client library to tidy them up), the answer read back until
// the server closes. For tests of what the service answers to malformed requests, oversized
// headers and bodies, and of how it closes (a reset instead of an answer is a failure).

#include <string>

namespace mm::testing {

struct RawExchange {
  std::string received;  // every byte the server sent
  int send_error = 0;    // errno of a send that failed (EPIPE, ECONNRESET: the server reset it)
  int read_error = 0;    // errno of the read that ended it (0: the server closed cleanly)
  // The status code of the first answer ("HTTP/1.1 413 ..." gives 413); 0 if there is none.
  int status() const;
};

// Sends `request` whole, as senders that write their request before they read do, then reads
// until the server closes (or 20 s pass). Port on 127.0.0.1.
RawExchange SendRaw(int port, const std::string& request);

}  // namespace mm::testing
