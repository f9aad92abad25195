// Unicode data behind the Jinja string filters: the case mappings and the casing
// properties (for the final-sigma rule) of the JavaScript engine the oracle runs on.
#pragma once

#include <cstdint>
#include <span>

namespace vki::model::jinja::unicode {

// Maps every `stride`-th code point in [first, last] (starting at first) to cp + delta.
struct CaseRun {
    char32_t first;
    char32_t last;
    int32_t delta;
    uint8_t stride;
};

// A code point whose mapping is several code points (unused slots of `to` are 0).
struct CaseMulti {
    char32_t cp;
    char32_t to[3];
};

struct CodeRange {
    char32_t first;
    char32_t last;
};

// All tables are sorted by code point and non-overlapping.
std::span<const CaseRun> upperRuns();
std::span<const CaseMulti> upperMulti();
std::span<const CaseRun> lowerRuns();
std::span<const CaseMulti> lowerMulti();
std::span<const CodeRange> cased();
std::span<const CodeRange> caseIgnorable();

}  // namespace vki::model::jinja::unicode
