// tests/integration/py_parsers.h — reading what slotfs prints with real
// parsers: Python's json module for JSON, prometheus_client's parser for
// the Prometheus text format (Debian's python3-prometheus-client, installed
// for the system interpreter /usr/bin/python3).

#ifndef SLOTFS_TESTS_INTEGRATION_PY_PARSERS_H_
#define SLOTFS_TESTS_INTEGRATION_PY_PARSERS_H_

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {

// The system interpreter: python3-prometheus-client is installed for it.
inline constexpr const char* kPython = "/usr/bin/python3";

// Prints every leaf of a JSON document as "a.b.c value" (strings raw,
// numbers as JSON), and "a.b.# N" for each array's length.
inline constexpr const char* kFlattenJson = R"(import json, sys
def walk(p, v):
    if isinstance(v, dict):
        for k, x in v.items(): walk(p + [k], x)
    elif isinstance(v, list):
        print('.'.join(p + ['#']), len(v))
        for i, x in enumerate(v): walk(p + [str(i)], x)
    else:
        print('.'.join(p), v if isinstance(v, str) else json.dumps(v))
walk([], json.load(open(sys.argv[1])))
)";

// Prints "family NAME TYPE" per family and "sample NAME{k=v,...} VALUE" per
// sample, as prometheus_client's parser reads them.
inline constexpr const char* kParseMetrics = R"(import sys
from prometheus_client.parser import text_string_to_metric_families as parse
for f in parse(open(sys.argv[1]).read()):
    print('family', f.name, f.type)
    for s in f.samples:
        labels = ','.join('%s=%s' % kv for kv in sorted(s.labels.items()))
        print('sample', s.name + ('{' + labels + '}' if labels else ''), repr(float(s.value)))
)";

// "key value" lines into a map (value = rest of the line).
inline std::map<std::string, std::string> KeyValues(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t sp = line.find(' ');
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

// Flattened JSON of a file, parsed by Python's json module.
inline ::testing::AssertionResult ParseJsonFile(const std::string& path,
                                                std::map<std::string, std::string>* out) {
  ProcResult r = RunProcess({kPython, "-c", kFlattenJson, path});
  if (r.exit_code != 0) return ::testing::AssertionFailure() << r.Describe();
  *out = KeyValues(r.out);
  return ::testing::AssertionSuccess();
}

struct Metrics {
  std::map<std::string, std::string> families;  // name -> type
  std::map<std::string, double> samples;        // name{labels} -> value
};

inline ::testing::AssertionResult ParseMetricsFile(const std::string& path, Metrics* m) {
  ProcResult r = RunProcess({kPython, "-c", kParseMetrics, path});
  if (r.exit_code != 0) return ::testing::AssertionFailure() << r.Describe();
  std::istringstream in(r.out);
  std::string kind, name, value;
  while (in >> kind >> name >> value) {
    if (kind == "family") {
      m->families[name] = value;
    } else {
      m->samples[name] = std::stod(value);
    }
  }
  if (m->families.empty()) return ::testing::AssertionFailure() << "no families\n" << r.Describe();
  return ::testing::AssertionSuccess();
}

}  // namespace slotfs::itest

#endif  // SLOTFS_TESTS_INTEGRATION_PY_PARSERS_H_
