#include "sources/provider_api.h"

namespace mm::sources {

absl::StatusOr<http_client::Response> Call(SourceContext& ctx, const http_client::Request& request) {
  absl::StatusOr<http_client::Response> response = ctx.http.Send(request);
  if (!response.ok()) return response.status();
  if (response->status >= 200 && response->status < 300) return response;
  return http_client::StatusOf(*response);
}

absl::StatusOr<http_client::Response> Get(SourceContext& ctx, std::string url,
                                          std::vector<std::pair<std::string, std::string>> headers) {
  http_client::Request request;
  request.url = std::move(url);
  request.headers = std::move(headers);
  return Call(ctx, request);
}

std::string JoinUrl(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base).append(path);
}

std::string UrlEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace mm::sources
