// Parsing LMCache local-disk file names back into the fields of their cache
// keys, for per-model reports (`slotfs info`).
//
// LMCache's local-disk backend names each chunk file
//   key.to_string().replace("/", "-") + ".pt"
// where key.to_string() is
//   MODEL@WORLD_SIZE@WORKER_ID@CHUNK_HASH@DTYPE[@LAYER][@TAG%VALUE...]
// CHUNK_HASH is hexadecimal (a leading '-' for a negative hash), DTYPE a
// short name (bfloat16, half, float, fp8_e4m3fn, ...), LAYER a layer index
// (layer-wise keys) and each TAG%VALUE a request tag. MODEL is the model
// name with '/' replaced by '-' (the original cannot be recovered).
// Example: meta-llama-Llama-3.1-8B-Instruct@1@0@189fa749c6180adf@bfloat16.pt
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace slotfs::core {

struct LmcacheKey {
  std::string model;  // as it appears in the file name
  uint32_t world_size = 0;
  uint32_t worker_id = 0;  // the rank that wrote the chunk
  std::string chunk_hash;  // as written, hex with an optional leading '-'
  std::string dtype;
  std::optional<uint32_t> layer;  // set for layer-wise keys
  uint32_t tags = 0;              // number of TAG%VALUE fields
};

// The key a file name encodes, or nullopt if the name does not follow the
// format above (wrong suffix, missing or malformed fields, numbers out of
// range). A model name holding '@' is accepted: the fields are matched
// after the shortest model prefix that makes the rest valid.
std::optional<LmcacheKey> ParseLmcacheFileName(std::string_view name);

}  // namespace slotfs::core
