#include "raw_http.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace mm::testing {

int RawExchange::status() const {
  // "HTTP/1.1 " then three digits.
  if (received.size() < 12 || received.compare(0, 5, "HTTP/") != 0) return 0;
  const size_t space = received.find(' ');
  if (space == std::string::npos || space + 4 > received.size()) return 0;
  int code = 0;
  for (size_t i = space + 1; i < space + 4; ++i) {
    if (received[i] < '0' || received[i] > '9') return 0;
    code = code * 10 + (received[i] - '0');
  }
  return code;
}

RawExchange SendRaw(int port, const std::string& request) {
  RawExchange out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    out.send_error = errno;
    return out;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{.tv_sec = 20, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    out.send_error = errno;
    ::close(fd);
    return out;
  }
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, std::min<size_t>(64 * 1024, request.size() - sent), MSG_NOSIGNAL);
    if (n <= 0) {
      out.send_error = errno;
      break;
    }
    sent += static_cast<size_t>(n);
  }
  char buf[16384];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      out.read_error = errno;
      break;
    }
    out.received.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace mm::testing
