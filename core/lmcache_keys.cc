// Parsing LMCache local-disk file names (see lmcache_keys.h).
#include "core/lmcache_keys.h"

#include <vector>

namespace slotfs::core {
namespace {

constexpr std::string_view kSuffix = ".pt";

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    out.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// A decimal number without sign or leading zeros (but "0"), up to 2^32-1.
std::optional<uint32_t> ParseU32(std::string_view s) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

bool IsHash(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!IsHex(c)) return false;
  }
  return true;
}

// Lower-case letters, digits and '_', starting with a letter.
bool IsDtype(std::string_view s) {
  if (s.empty() || s.size() > 32 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || IsDigit(c) || c == '_')) return false;
  }
  return true;
}

bool IsTag(std::string_view s) {
  size_t pct = s.find('%');
  return pct != std::string_view::npos && pct > 0;
}

// Parses the fields after the model: WS, WID, HASH, DTYPE[, LAYER][, TAGS].
std::optional<LmcacheKey> ParseFields(const std::vector<std::string_view>& f, size_t at) {
  if (f.size() < at + 4) return std::nullopt;
  LmcacheKey k;
  auto ws = ParseU32(f[at]);
  auto wid = ParseU32(f[at + 1]);
  if (!ws || !wid || *ws == 0) return std::nullopt;
  if (!IsHash(f[at + 2]) || !IsDtype(f[at + 3])) return std::nullopt;
  k.world_size = *ws;
  k.worker_id = *wid;
  k.chunk_hash = std::string(f[at + 2]);
  k.dtype = std::string(f[at + 3]);
  size_t i = at + 4;
  if (i < f.size() && !IsTag(f[i])) {
    auto layer = ParseU32(f[i]);
    if (!layer) return std::nullopt;
    k.layer = *layer;
    ++i;
  }
  for (; i < f.size(); ++i) {
    if (!IsTag(f[i])) return std::nullopt;
    ++k.tags;
  }
  return k;
}

}  // namespace

std::optional<LmcacheKey> ParseLmcacheFileName(std::string_view name) {
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return std::nullopt;
  name.remove_suffix(kSuffix.size());
  std::vector<std::string_view> f = Split(name, '@');
  // The model takes fields [0, m): the shortest prefix that leaves a valid
  // rest wins.
  for (size_t m = 1; m + 4 <= f.size(); ++m) {
    size_t model_len = static_cast<size_t>(f[m - 1].data() + f[m - 1].size() - name.data());
    if (model_len == 0) continue;
    std::optional<LmcacheKey> k = ParseFields(f, m);
    if (!k) continue;
    k->model = std::string(name.substr(0, model_len));
    return k;
  }
  return std::nullopt;
}

}  // namespace slotfs::core
