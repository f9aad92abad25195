// Readable English-like text for perplexity tests: sentences drawn from small word
// lists by a fixed-seed generator, so every run scores the same tokens.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace vki::test {

inline std::string sampleText(uint32_t sentences, uint32_t seed = 7) {
    static const char* const kSubjects[] = {"The old river", "A small bird",  "Every engineer", "The quiet town",
                                            "My neighbour",  "The red train", "A tired farmer", "The new library"};
    static const char* const kVerbs[] = {"watches", "carries", "remembers", "follows", "paints", "finds", "builds"};
    static const char* const kObjects[] = {"the morning light",  "a wooden bridge",  "three green apples",
                                           "the northern hills", "an open window",   "the last letter",
                                           "a forgotten song",   "the winter market"};
    static const char* const kEndings[] = {"before the rain.", "after dinner.",     "with great care.",
                                           "every Sunday.",    "near the harbour.", "without a word."};
    std::mt19937 rng(seed);
    auto pick = [&](const auto& list) { return list[rng() % std::size(list)]; };
    std::string text;
    for (uint32_t i = 0; i < sentences; ++i) {
        text += std::string(pick(kSubjects)) + " " + pick(kVerbs) + " " + pick(kObjects) + " " + pick(kEndings);
        text += (i % 5 == 4) ? "\n\n" : " ";
    }
    return text;
}

}  // namespace vki::test
