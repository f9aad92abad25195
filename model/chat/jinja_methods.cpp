// Methods of built-in types ("text".strip(), dict.items(), ...) and the global functions,
// as @huggingface/jinja defines them.
#include <algorithm>
#include <cmath>
#include <ctime>

#include "model/chat/jinja_interpreter.hpp"
#include "model/chat/jinja_text.hpp"

namespace vki::model::jinja {
namespace {

using Body = Function::Body;

[[noreturn]] void invalid(const std::string& message) {
    throw EvalError(ErrorCode::kInvalidArgument, message);
}

void noKeywords(const CallArgs& args, const char* method) {
    if (!args.keywords.empty()) {
        throw EvalError(ErrorCode::kUnsupported, std::string(method) + "() does not take keyword arguments");
    }
}

Value method(const char* name, Body body) {
    return Value::function(name, std::move(body));
}

// String.prototype.replace with a global regex for `old`, limited to `count` replacements;
// an empty `old` matches at every code point boundary.
std::string replaceString(Interpreter& in, std::string_view s, std::string_view old, std::string_view with,
                          std::optional<double> count) {
    if (count && *count == 0) return std::string(s);
    double remaining = (!count || *count < 0) ? INFINITY : *count;
    std::string out;
    const auto emit = [&](std::string_view piece) {
        in.checkStringSize(out.size() + piece.size());
        out.append(piece);
    };
    if (old.empty()) {
        for (size_t i = 0; i <= s.size();) {
            if (remaining > 0) {
                emit(with);
                --remaining;
            }
            if (i == s.size()) break;
            const size_t start = i;
            decodeUtf8(s, i);
            emit(s.substr(start, i - start));
        }
        return out;
    }
    size_t pos = 0;
    while (remaining > 0) {
        const size_t hit = s.find(old, pos);
        if (hit == std::string_view::npos) break;
        emit(s.substr(pos, hit - pos));
        emit(with);
        pos = hit + old.size();
        --remaining;
    }
    emit(s.substr(pos));
    return out;
}

// Python's str.split(sep=None, maxsplit=-1) as the oracle implements it.
std::vector<Value> splitString(std::string_view s, const Value& sep, double maxsplit) {
    std::vector<Value> out;
    if (sep.isNone()) {
        const std::string_view text = jsTrimStart(s);
        size_t i = 0;
        while (i < text.size()) {
            const size_t start = i;
            while (i < text.size() && jsWhitespaceAt(text.substr(i)) == 0) {
                size_t next = i;
                decodeUtf8(text, next);
                i = next;
            }
            if (maxsplit != -1 && static_cast<double>(out.size()) >= maxsplit) {
                out.push_back(Value::string(std::string(text.substr(start))));
                return out;
            }
            out.push_back(Value::string(std::string(text.substr(start, i - start))));
            while (size_t n = jsWhitespaceAt(text.substr(i))) i += n;
        }
        return out;
    }
    const std::string& separator = sep.str();
    if (separator.empty()) invalid("empty separator");
    std::vector<std::string> parts;
    size_t pos = 0;
    while (true) {
        const size_t hit = s.find(separator, pos);
        if (hit == std::string_view::npos) break;
        parts.emplace_back(s.substr(pos, hit - pos));
        pos = hit + separator.size();
    }
    parts.emplace_back(s.substr(pos));
    if (maxsplit != -1 && static_cast<double>(parts.size()) > maxsplit) {
        // result.push(result.splice(maxsplit).join(sep)), with splice's negative start.
        const double len = static_cast<double>(parts.size());
        const double start = maxsplit < 0 ? std::max(len + maxsplit, 0.0) : std::min(maxsplit, len);
        const auto first = static_cast<size_t>(start);
        std::string rest;
        for (size_t i = first; i < parts.size(); ++i) rest += (i > first ? separator : "") + parts[i];
        parts.resize(first);
        parts.push_back(std::move(rest));
    }
    for (auto& p : parts) out.push_back(Value::string(std::move(p)));
    return out;
}

// startswith/endswith take a string or a list of strings.
Value affixTest(const std::string& s, const CallArgs& args, bool prefix, const char* name) {
    noKeywords(args, name);
    if (args.positional.empty()) invalid(std::string(name) + "() requires at least one argument");
    const auto matches = [&](const std::string& affix) {
        if (affix.size() > s.size()) return false;
        return prefix ? s.compare(0, affix.size(), affix) == 0
                      : s.compare(s.size() - affix.size(), affix.size(), affix) == 0;
    };
    const Value& pattern = args.positional[0];
    if (pattern.isString()) return Value::boolean(matches(pattern.str()));
    if (pattern.isList()) {
        for (const Value& item : pattern.items()) {
            if (!item.isString()) invalid(std::string(name) + "() tuple elements must be strings");
            if (matches(item.str())) return Value::boolean(true);
        }
        return Value::boolean(false);
    }
    invalid(std::string(name) + "() argument must be a string or tuple of strings");
}

// JavaScript's value.replace(/\b\w/g, c => c.toUpperCase()): ASCII word starts only.
std::string titleCase(const std::string& s) {
    const auto word = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    };
    std::string out = s;
    for (size_t i = 0; i < out.size(); ++i) {
        if (word(out[i]) && (i == 0 || !word(out[i - 1])) && out[i] >= 'a' && out[i] <= 'z') out[i] -= 32;
    }
    return out;
}

// charAt(0).toUpperCase() + slice(1): the first UTF-16 unit only, so a first character
// outside the BMP stays as it is.
std::string capitalize(const std::string& s) {
    if (s.empty()) return s;
    size_t i = 0;
    const char32_t cp = decodeUtf8(s, i);
    if (cp >= 0x10000) return s;
    return jsToUpper(std::string_view(s).substr(0, i)) + s.substr(i);
}

std::optional<Value> stringMember(const Value& object, const std::string& name) {
    const std::string& s = object.str();
    const auto unary = [&](std::string (*fn)(const std::string&)) {
        return method(name.c_str(),
                      [object, fn](Interpreter& in, CallArgs&, Scope&) { return in.makeString(fn(object.str())); });
    };
    if (name == "length") return Value::integer(static_cast<double>(jsLength(s)));
    if (name == "upper") return unary([](const std::string& x) { return jsToUpper(x); });
    if (name == "lower") return unary([](const std::string& x) { return jsToLower(x); });
    if (name == "strip") return unary([](const std::string& x) { return std::string(jsTrim(x)); });
    if (name == "lstrip") return unary([](const std::string& x) { return std::string(jsTrimStart(x)); });
    if (name == "rstrip") return unary([](const std::string& x) { return std::string(jsTrimEnd(x)); });
    if (name == "title") return unary(&titleCase);
    if (name == "capitalize") return unary(&capitalize);
    if (name == "startswith" || name == "endswith") {
        const bool prefix = name == "startswith";
        return method(name.c_str(), [object, prefix](Interpreter&, CallArgs& args, Scope&) {
            return affixTest(object.str(), args, prefix, prefix ? "startswith" : "endswith");
        });
    }
    if (name == "split") {
        return method("split", [object](Interpreter& in, CallArgs& args, Scope&) {
            noKeywords(args, "split");
            const Value sep = args.positional.empty() ? Value::none() : args.positional[0];
            if (!sep.isString() && !sep.isNone()) invalid("sep argument must be a string or none");
            const Value maxsplit = args.positional.size() > 1 ? args.positional[1] : Value::integer(-1);
            if (!maxsplit.is(Value::Type::kInt)) invalid("maxsplit argument must be an integer");
            std::vector<Value> parts = splitString(object.str(), sep, maxsplit.asNumber());
            in.charge(parts.size());
            return Value::list(std::move(parts));
        });
    }
    if (name == "replace") {
        return method("replace", [object](Interpreter& in, CallArgs& args, Scope&) {
            if (args.positional.size() < 2) invalid("replace() requires at least two arguments");
            const Value& old = args.positional[0];
            const Value& with = args.positional[1];
            if (!old.isString() || !with.isString()) invalid("replace() arguments must be strings");
            Value count = Value::none();
            if (args.positional.size() > 2) {
                count = args.positional[2];
            } else if (const Value* kw = args.keyword("count")) {
                count = *kw;
            }
            if (!count.is(Value::Type::kInt) && !count.isNone()) invalid("replace() count must be an integer or none");
            const auto limit = count.isNone() ? std::nullopt : std::optional<double>(count.asNumber());
            return in.makeString(replaceString(in, object.str(), old.str(), with.str(), limit));
        });
    }
    return std::nullopt;
}

Value pairList(const Dict& d) {
    std::vector<Value> items;
    for (const auto& [k, v] : d.entries()) items.push_back(Value::list({Value::string(k), v}));
    return Value::list(std::move(items));
}

Value dictSort(const Value& object, const CallArgs& args) {
    const auto arg = [&](size_t i, const char* name, Value fallback) {
        if (i < args.positional.size()) return args.positional[i];
        if (const Value* kw = args.keyword(name)) return *kw;
        return fallback;
    };
    const Value case_sensitive = arg(0, "case_sensitive", Value::boolean(false));
    const Value by = arg(1, "by", Value::string("key"));
    const Value reverse = arg(2, "reverse", Value::boolean(false));
    if (!case_sensitive.is(Value::Type::kBool)) invalid("case_sensitive must be a boolean");
    if (!by.isString() || (by.str() != "key" && by.str() != "value")) invalid("by must be either 'key' or 'value'");
    if (!reverse.is(Value::Type::kBool)) invalid("reverse must be a boolean");
    std::vector<Value> items = pairList(object.entries()).items();
    const size_t index = by.str() == "key" ? 0 : 1;
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
        const int c = compareValues(a.items()[index], b.items()[index], case_sensitive.asBool());
        return (reverse.asBool() ? -c : c) < 0;
    });
    return Value::list(std::move(items));
}

std::optional<Value> dictMember(const Value& object, const std::string& name) {
    if (name == "get") {
        return method("get", [object](Interpreter&, CallArgs& args, Scope&) {
            noKeywords(args, "get");
            if (args.positional.empty() || !args.positional[0].isString()) invalid("dict key must be a string");
            if (const Value* v = object.entries().find(args.positional[0].str())) return *v;
            return args.positional.size() > 1 ? args.positional[1] : Value::none();
        });
    }
    if (name == "items") {
        return method("items", [object](Interpreter&, CallArgs&, Scope&) { return pairList(object.entries()); });
    }
    if (name == "keys" || name == "values") {
        const bool keys = name == "keys";
        return method(name.c_str(), [object, keys](Interpreter&, CallArgs&, Scope&) {
            std::vector<Value> out;
            for (const auto& [k, v] : object.entries().entries()) out.push_back(keys ? Value::string(k) : v);
            return Value::list(std::move(out));
        });
    }
    if (name == "dictsort") {
        return method("dictsort", [object](Interpreter&, CallArgs& args, Scope&) { return dictSort(object, args); });
    }
    return std::nullopt;
}

Value raiseException(Interpreter&, CallArgs& args, Scope&) {
    std::string message;
    // new Error(undefined) has an empty message; none is undefined underneath.
    const Value* arg = args.positional.empty() ? nullptr : &args.positional[0];
    if (arg != nullptr && !arg->isUndefined() && !arg->isNone()) message = jsString(*arg);
    throw EvalError(ErrorCode::kInvalidArgument, message, true);
}

// Python's range() as the oracle's JavaScript loop computes it (repeated addition).
Value range(Interpreter& in, CallArgs& args, Scope&) {
    noKeywords(args, "range");
    std::vector<double> nums;
    for (const Value& v : args.positional) {
        if (nums.size() == 3) break;
        if (v.isUndefined()) {
            nums.push_back(NAN);
            continue;
        }
        if (!v.isNumber() && !v.is(Value::Type::kBool)) {
            invalid(std::string("range() arguments must be numbers, not ") + typeName(v));
        }
        nums.push_back(v.asNumber());
    }
    if (nums.empty() || std::isnan(nums[0])) invalid("range() needs a stop value");
    double start = nums[0], stop = 0, step = 1;
    if (nums.size() < 2 || std::isnan(nums[1])) {
        stop = start;
        start = 0;
    } else {
        stop = nums[1];
    }
    if (nums.size() > 2 && !std::isnan(nums[2])) step = nums[2];
    if (step == 0) invalid("range() step must not be zero");
    const double count = std::ceil((stop - start) / step);
    if (count > static_cast<double>(kMaxListLength)) {
        invalid("range() would produce more than " + std::to_string(kMaxListLength) + " numbers");
    }
    std::vector<Value> out;
    if (count > 0) {
        in.charge(static_cast<uint64_t>(count));
        out.reserve(static_cast<size_t>(count));
        for (double i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(Value::number(i));
    }
    return Value::list(std::move(out));
}

// strftime_now(format) of the oracle: %Y %m %d %b %B %H %M %% in local time, English month
// names (the engine's default locale); other directives stay as written.
Value strftimeNow(Interpreter& in, CallArgs& args, Scope&) {
    noKeywords(args, "strftime_now");
    if (args.positional.empty() || !args.positional[0].isString()) invalid("strftime_now() needs a format string");
    static const char* const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                          "July",    "August",   "September", "October", "November", "December"};
    const std::time_t now = std::time(nullptr);
    std::tm local{};
#if defined(_WIN32)
    localtime_s(&local, &now);
#else
    localtime_r(&now, &local);
#endif
    const auto pad2 = [](int n) { return (n < 10 ? "0" : "") + std::to_string(n); };
    const std::string& format = args.positional[0].str();
    std::string out;
    for (size_t i = 0; i < format.size(); ++i) {
        const char d = i + 1 < format.size() && format[i] == '%' ? format[i + 1] : '\0';
        switch (d) {
            case 'Y':
                out += std::to_string(local.tm_year + 1900);
                break;
            case 'm':
                out += pad2(local.tm_mon + 1);
                break;
            case 'd':
                out += pad2(local.tm_mday);
                break;
            case 'b':
                out += std::string(kMonths[local.tm_mon]).substr(0, 3);
                break;
            case 'B':
                out += kMonths[local.tm_mon];
                break;
            case 'H':
                out += pad2(local.tm_hour);
                break;
            case 'M':
                out += pad2(local.tm_min);
                break;
            case '%':
                out += '%';
                break;
            default:
                out += format[i];
                continue;
        }
        ++i;
    }
    return in.makeString(std::move(out));
}

// namespace(dict or [(key, value), ...], **kwargs): a fresh mutable object.
Value makeNamespace(Interpreter& in, CallArgs& args, Scope&) {
    if (args.positional.size() > 1) {
        invalid("namespace expected at most 1 argument, got " + std::to_string(args.positional.size()));
    }
    Dict entries;
    if (!args.positional.empty()) {
        const Value& source = args.positional[0];
        if (source.isDict()) {
            for (const auto& [k, v] : source.entries().entries()) entries.set(k, v);
        } else if (source.isList()) {
            for (const Value& pair : source.items()) {
                std::vector<Value> kv;
                if (pair.isList()) {
                    kv = pair.items();
                } else if (pair.isString()) {
                    for (char32_t cp : toCodePoints(pair.str())) kv.push_back(Value::string(fromCodePoints({&cp, 1})));
                }
                if (kv.size() != 2) invalid("namespace expected a dict or a list of (key, value) pairs");
                if (!kv[0].isString()) invalid("namespace keys must be strings");
                entries.set(kv[0].str(), kv[1]);
            }
        } else {
            invalid(std::string("namespace() cannot read ") + typeName(source));
        }
    }
    for (const auto& [k, v] : args.keywords) entries.set(k, v);
    return in.makeNamespace(std::move(entries));
}

}  // namespace

std::optional<Value> Interpreter::builtinMember(const Value& object, const std::string& name) {
    if (object.isString()) return stringMember(object, name);
    if (object.isList()) {
        if (name == "length") return Value::integer(static_cast<double>(object.items().size()));
        return std::nullopt;
    }
    if (object.isDict()) return dictMember(object, name);
    return std::nullopt;
}

void installGlobals(Scope& globals) {
    for (const char* name : {"false", "False"}) globals.set(name, Value::boolean(false));
    for (const char* name : {"true", "True"}) globals.set(name, Value::boolean(true));
    for (const char* name : {"none", "None"}) globals.set(name, Value::none());
    globals.set("raise_exception", Value::function("raise_exception", &raiseException));
    globals.set("range", Value::function("range", &range));
    globals.set("strftime_now", Value::function("strftime_now", &strftimeNow));
    globals.set("namespace", Value::function("namespace", &makeNamespace));
}

}  // namespace vki::model::jinja
