// JSON string literals for every JSON slotfs prints (check --json, the
// .slotfs/stats control file, bench --json, info --json).
//
// File names and paths are bytes, not text: a name need not be UTF-8, but
// JSON must be. Every string goes through Utf8Repair: valid UTF-8 passes
// unchanged; each byte that does not start or continue a valid sequence
// (stray continuation bytes, overlong forms, surrogates, code points past
// U+10FFFF, truncated sequences) becomes U+FFFD. The result is always
// valid JSON; a name with invalid bytes is shown lossily.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace slotfs {

// True if `s` is well-formed UTF-8 (RFC 3629).
bool IsValidUtf8(std::string_view s);

// `s` with every invalid byte replaced by U+FFFD (EF BF BD).
std::string Utf8Repair(std::string_view s);

// `s` as a JSON string literal, quotes included: UTF-8 repaired, '"' and
// '\' escaped, control characters and DEL as \u00XX.
std::string JsonQuote(std::string_view s);

}  // namespace slotfs
