#include "model/chat/jinja_parser.hpp"

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <set>
#include <string_view>

#include "common/error.hpp"
#include "model/chat/jinja_error.hpp"

namespace vki::model::jinja {
namespace {

// Jinja statements the subset leaves out: templates using them get kUnsupported rather
// than a syntax error, so the message says what is missing.
bool isUnsupportedStatement(std::string_view name) {
    static constexpr std::string_view kNames[] = {"call",    "raw",       "include", "import",     "from",
                                                  "extends", "block",     "with",    "autoescape", "do",
                                                  "trans",   "pluralize", "print",   "cycle"};
    return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// Which of a macro's special names (`kwargs`, `varargs`) its body reads before declaring
// them, visiting in Jinja's order, as @huggingface/jinja decides whether a macro accepts
// extra keyword or positional arguments.
class SpecialArgumentScan {
public:
    void declare(const Node& target) {
        if (target.kind == NodeKind::kIdentifier) {
            if (target.text == "kwargs" || target.text == "varargs") declared_.insert(target.text);
        } else if (target.kind == NodeKind::kTuple) {
            for (const auto& item : target.kids) declare(*item);
        }
    }
    void declareParameter(const Node& parameter) {
        const std::string& name = parameter.text;
        if (name == "kwargs" || name == "varargs") declared_.insert(name);
    }
    bool accessed(const std::string& name) const { return accessed_.count(name) > 0; }

    void visitAll(const NodeList& nodes) {
        for (const auto& n : nodes) visit(n.get());
    }

    void visit(const Node* n) {
        if (n == nullptr) return;
        switch (n->kind) {
            case NodeKind::kFor:
                declare(*n->kids[0]);
                if (n->kids[1]->kind == NodeKind::kSelect) {
                    visit(n->kids[1]->kids[0].get());
                    visitAll(n->body);
                    visitAll(n->alternate);
                    visit(n->kids[1]->kids[1].get());
                    return;
                }
                visit(n->kids[1].get());
                visitAll(n->body);
                visitAll(n->alternate);
                return;
            case NodeKind::kSet:
                declare(*n->kids[0]);
                visit(n->kids[1].get());
                visitAll(n->body);
                return;
            case NodeKind::kMacro:
                for (const auto& p : n->kids) declareParameter(*p);
                visitDefaults(n->kids);
                visitAll(n->body);
                return;
            case NodeKind::kFilterBlock:
                visitAll(n->body);
                visitFilterArguments(*n->kids[0]);
                return;
            case NodeKind::kIdentifier:
                if ((n->text == "kwargs" || n->text == "varargs") && declared_.count(n->text) == 0) {
                    accessed_.insert(n->text);
                }
                return;
            case NodeKind::kMember:
                visit(n->kids[0].get());
                if (n->flag) visit(n->kids[1].get());
                return;
            case NodeKind::kFilter:
                visit(n->kids[0].get());
                visitFilterArguments(*n->kids[1]);
                return;
            case NodeKind::kTest:
                visit(n->kids[0].get());
                return;
            case NodeKind::kSelect:
                visit(n->kids[1].get());
                visit(n->kids[0].get());
                return;
            default:
                for (const auto& k : n->kids) visit(k.get());
                visitAll(n->body);
                visitAll(n->alternate);
                return;
        }
    }

    void visitDefaults(const NodeList& parameters) {
        for (const auto& p : parameters) {
            if (p->kind == NodeKind::kKeywordArg) visit(p->kids[0].get());
        }
    }

private:
    // A filter's name is syntax, not a variable read; its arguments are.
    void visitFilterArguments(const Node& filter) {
        if (filter.kind != NodeKind::kCall) return;
        for (size_t i = 1; i < filter.kids.size(); ++i) visit(filter.kids[i].get());
    }

    std::set<std::string> declared_;
    std::set<std::string> accessed_;
};

class Parser {
public:
    Parser(const std::vector<Token>& tokens, const SourceMap& map) : tokens_(tokens), map_(map) {}

    NodeList run() {
        NodeList program;
        while (cur_ < tokens_.size()) program.push_back(parseAny());
        return program;
    }

private:
    enum class ArgMode { kCall, kParameters };

    // Bounds the parser's recursion; every recursive production passes through one.
    struct DepthGuard {
        explicit DepthGuard(Parser& p) : parser(p) {
            if (++parser.depth_ > kMaxParseDepth) {
                parser.fail(ErrorCode::kUnsupported,
                            "template nests deeper than " + std::to_string(kMaxParseDepth) + " levels");
            }
        }
        ~DepthGuard() { --parser.depth_; }
        DepthGuard(const DepthGuard&) = delete;
        DepthGuard& operator=(const DepthGuard&) = delete;
        Parser& parser;
    };

    [[noreturn]] void fail(ErrorCode code, const std::string& message) const {
        uint32_t offset = 0;
        if (cur_ < tokens_.size()) {
            offset = tokens_[cur_].offset;
        } else if (!tokens_.empty()) {
            offset = tokens_.back().offset;
        }
        throw Error(code, "chat template, " + map_.describe(offset) + ": " + message);
    }
    [[noreturn]] void syntaxError(const std::string& message) const { fail(ErrorCode::kBadFile, message); }

    const Token& peek() const {
        if (cur_ >= tokens_.size()) syntaxError("unexpected end of template");
        return tokens_[cur_];
    }
    const Token& next() {
        const Token& t = peek();
        ++cur_;
        return t;
    }
    bool is(TokenType type) const { return cur_ < tokens_.size() && tokens_[cur_].type == type; }
    bool isIdentifier(std::string_view name, size_t ahead = 0) const {
        return cur_ + ahead < tokens_.size() && tokens_[cur_ + ahead].type == TokenType::kIdentifier &&
               tokens_[cur_ + ahead].value == name;
    }
    bool isStatement(std::initializer_list<std::string_view> names) const {
        if (!is(TokenType::kOpenStatement) || cur_ + 1 >= tokens_.size()) return false;
        const Token& t = tokens_[cur_ + 1];
        return t.type == TokenType::kIdentifier && std::find(names.begin(), names.end(), t.value) != names.end();
    }
    const Token& expect(TokenType type, const char* what) {
        if (cur_ >= tokens_.size()) syntaxError(std::string("expected ") + what + " but the template ended");
        const Token& t = tokens_[cur_];
        if (t.type != type) syntaxError(std::string("expected ") + what + ", found " + tokenTypeName(t.type));
        ++cur_;
        return t;
    }
    void expectIdentifier(std::string_view name) {
        if (!isIdentifier(name)) syntaxError("expected '" + std::string(name) + "'");
        ++cur_;
    }
    void expectEndTag(std::string_view name) {
        expect(TokenType::kOpenStatement, "'{%'");
        expectIdentifier(name);
        expect(TokenType::kCloseStatement, "'%}'");
    }

    // Statements up to (not including) one of the named tags.
    NodeList parseBody(std::initializer_list<std::string_view> until, std::string_view closing) {
        NodeList body;
        while (!isStatement(until)) {
            if (cur_ >= tokens_.size()) syntaxError("missing {% " + std::string(closing) + " %}");
            body.push_back(parseAny());
        }
        return body;
    }

    static NodePtr make(NodeKind kind, uint32_t offset) {
        auto n = std::make_unique<Node>();
        n->kind = kind;
        n->offset = offset;
        return n;
    }

    // Records the subtree height; loops (a.b.c..., x|f|g...) build deep trees without deep
    // parser recursion, and evaluation and destruction recurse along them.
    NodePtr seal(NodePtr n) const {
        int height = 0;
        for (const NodeList* list : {&n->kids, &n->body, &n->alternate}) {
            for (const auto& k : *list) {
                if (k) height = std::max<int>(height, k->depth);
            }
        }
        if (height + 1 > kMaxTreeDepth) {
            fail(ErrorCode::kUnsupported, "template nests deeper than " + std::to_string(kMaxTreeDepth) + " levels");
        }
        n->depth = static_cast<uint16_t>(height + 1);
        return n;
    }

    NodePtr parseAny() {
        DepthGuard guard(*this);
        const Token& t = peek();
        switch (t.type) {
            case TokenType::kComment: {
                auto n = make(NodeKind::kComment, t.offset);
                ++cur_;
                return n;
            }
            case TokenType::kText: {
                auto n = make(NodeKind::kText, t.offset);
                n->text = t.value;
                ++cur_;
                return n;
            }
            case TokenType::kOpenStatement:
                return parseStatement();
            case TokenType::kOpenExpression: {
                ++cur_;
                auto n = parseExpression();
                expect(TokenType::kCloseExpression, "'}}'");
                return n;
            }
            default:
                syntaxError(std::string("unexpected ") + tokenTypeName(t.type));
        }
    }

    NodePtr parseStatement() {
        expect(TokenType::kOpenStatement, "'{%'");
        const Token& t = peek();
        if (t.type != TokenType::kIdentifier)
            syntaxError(std::string("expected a statement name, found ") + tokenTypeName(t.type));
        const std::string name = t.value;
        const uint32_t offset = t.offset;
        if (name == "set") {
            ++cur_;
            return parseSet(offset);
        }
        if (name == "if") {
            ++cur_;
            auto n = parseIf(offset);
            expectEndTag("endif");
            return n;
        }
        if (name == "for") {
            ++cur_;
            auto n = parseFor(offset);
            expectEndTag("endfor");
            return n;
        }
        if (name == "macro") {
            ++cur_;
            auto n = parseMacro(offset);
            expectEndTag("endmacro");
            return n;
        }
        if (name == "break" || name == "continue") {
            ++cur_;
            expect(TokenType::kCloseStatement, "'%}'");
            return make(name == "break" ? NodeKind::kBreak : NodeKind::kContinue, offset);
        }
        if (name == "filter") {
            ++cur_;
            auto n = make(NodeKind::kFilterBlock, offset);
            auto filter = parsePrimary();
            if (filter->kind == NodeKind::kIdentifier && is(TokenType::kOpenParen)) {
                filter = parseCall(std::move(filter));
            }
            n->kids.push_back(std::move(filter));
            expect(TokenType::kCloseStatement, "'%}'");
            n->body = parseBody({"endfilter"}, "endfilter");
            expectEndTag("endfilter");
            return seal(std::move(n));
        }
        if (isUnsupportedStatement(name)) {
            fail(ErrorCode::kUnsupported, "the {% " + name + " %} statement is not supported");
        }
        syntaxError("unknown statement '" + name + "'");
    }

    NodePtr parseSet(uint32_t offset) {
        auto n = make(NodeKind::kSet, offset);
        n->kids.push_back(parseExpressionSequence(false));
        if (is(TokenType::kEquals)) {
            ++cur_;
            n->kids.push_back(parseExpressionSequence(false));
        } else {
            n->kids.push_back(nullptr);
            expect(TokenType::kCloseStatement, "'%}'");
            n->body = parseBody({"endset"}, "endset");
            expect(TokenType::kOpenStatement, "'{%'");
            expectIdentifier("endset");
        }
        expect(TokenType::kCloseStatement, "'%}'");
        return seal(std::move(n));
    }

    NodePtr parseIf(uint32_t offset) {
        DepthGuard guard(*this);
        auto n = make(NodeKind::kIf, offset);
        n->kids.push_back(parseExpression());
        expect(TokenType::kCloseStatement, "'%}'");
        n->body = parseBody({"elif", "else", "endif"}, "endif");
        if (isStatement({"elif"})) {
            const uint32_t elif_offset = tokens_[cur_ + 1].offset;
            cur_ += 2;
            n->alternate.push_back(parseIf(elif_offset));
        } else if (isStatement({"else"})) {
            cur_ += 2;
            expect(TokenType::kCloseStatement, "'%}'");
            n->alternate = parseBody({"endif"}, "endif");
        }
        return seal(std::move(n));
    }

    NodePtr parseFor(uint32_t offset) {
        auto n = make(NodeKind::kFor, offset);
        auto target = parseExpressionSequence(true);
        if (target->kind != NodeKind::kIdentifier && target->kind != NodeKind::kTuple) {
            syntaxError("expected a variable name or tuple after 'for'");
        }
        n->kids.push_back(std::move(target));
        if (!isIdentifier("in")) syntaxError("expected 'in' after the loop variable");
        ++cur_;
        n->kids.push_back(parseExpression());
        expect(TokenType::kCloseStatement, "'%}'");
        n->body = parseBody({"endfor", "else"}, "endfor");
        if (isStatement({"else"})) {
            cur_ += 2;
            expect(TokenType::kCloseStatement, "'%}'");
            n->alternate = parseBody({"endfor"}, "endfor");
        }
        return seal(std::move(n));
    }

    NodePtr parseMacro(uint32_t offset) {
        auto n = make(NodeKind::kMacro, offset);
        auto name = parsePrimary();
        if (name->kind != NodeKind::kIdentifier) syntaxError("expected a macro name");
        n->text = name->text;
        n->kids = parseArgs(ArgMode::kParameters);
        expect(TokenType::kCloseStatement, "'%}'");
        n->body = parseBody({"endmacro"}, "endmacro");
        SpecialArgumentScan scan;
        for (const auto& p : n->kids) scan.declareParameter(*p);
        scan.visitAll(n->body);
        n->uses_kwargs = scan.accessed("kwargs");
        n->uses_varargs = scan.accessed("varargs");
        return seal(std::move(n));
    }

    NodePtr parseExpressionSequence(bool primary) {
        const uint32_t offset = peek().offset;
        NodeList items;
        items.push_back(primary ? parsePrimary() : parseExpression());
        const bool tuple = is(TokenType::kComma);
        while (tuple) {
            ++cur_;
            items.push_back(primary ? parsePrimary() : parseExpression());
            if (!is(TokenType::kComma)) break;
        }
        if (!tuple) return std::move(items[0]);
        auto n = make(NodeKind::kTuple, offset);
        n->kids = std::move(items);
        return seal(std::move(n));
    }

    NodePtr parseExpression() { return parseIfExpression(); }

    NodePtr parseIfExpression() {
        DepthGuard guard(*this);
        auto a = parseLogicalOr();
        if (!isIdentifier("if")) return a;
        const uint32_t offset = peek().offset;
        ++cur_;
        auto test = parseLogicalOr();
        if (isIdentifier("else")) {
            ++cur_;
            auto n = make(NodeKind::kTernary, offset);
            n->kids.push_back(std::move(test));
            n->kids.push_back(std::move(a));
            n->kids.push_back(parseIfExpression());
            return seal(std::move(n));
        }
        auto n = make(NodeKind::kSelect, offset);
        n->kids.push_back(std::move(a));
        n->kids.push_back(std::move(test));
        return seal(std::move(n));
    }

    NodePtr binary(const Token& op, NodePtr left, NodePtr right, std::string text) {
        auto n = make(NodeKind::kBinary, op.offset);
        n->text = std::move(text);
        n->kids.push_back(std::move(left));
        n->kids.push_back(std::move(right));
        return seal(std::move(n));
    }

    NodePtr parseLogicalOr() {
        auto left = parseLogicalAnd();
        while (isIdentifier("or")) {
            const Token& op = next();
            left = binary(op, std::move(left), parseLogicalAnd(), "or");
        }
        return left;
    }

    NodePtr parseLogicalAnd() {
        auto left = parseLogicalNot();
        while (isIdentifier("and")) {
            const Token& op = next();
            left = binary(op, std::move(left), parseLogicalNot(), "and");
        }
        return left;
    }

    NodePtr parseLogicalNot() {
        DepthGuard guard(*this);
        NodePtr result;
        while (isIdentifier("not")) {
            const Token& op = next();
            auto n = make(NodeKind::kUnary, op.offset);
            n->text = "not";
            n->kids.push_back(parseLogicalNot());
            result = seal(std::move(n));
        }
        return result ? std::move(result) : parseComparison();
    }

    NodePtr parseComparison() {
        auto left = parseAdditive();
        while (true) {
            std::string op;
            const Token* op_token = nullptr;
            if (isIdentifier("not") && isIdentifier("in", 1)) {
                op_token = &tokens_[cur_];
                op = "not in";
                cur_ += 2;
            } else if (isIdentifier("in") || is(TokenType::kComparisonOperator)) {
                op_token = &next();
                op = op_token->value;
            } else {
                break;
            }
            left = binary(*op_token, std::move(left), parseAdditive(), op);
        }
        return left;
    }

    NodePtr parseAdditive() {
        auto left = parseMultiplicative();
        while (is(TokenType::kAdditiveOperator)) {
            const Token& op = next();
            left = binary(op, std::move(left), parseMultiplicative(), op.value);
        }
        return left;
    }

    NodePtr parseMultiplicative() {
        auto left = parsePower();
        while (is(TokenType::kMultiplicativeOperator)) {
            const Token& op = next();
            left = binary(op, std::move(left), parsePower(), op.value);
        }
        return left;
    }

    NodePtr parsePower() {
        auto left = parseTest();
        while (is(TokenType::kExponentiationOperator)) {
            const Token& op = next();
            left = binary(op, std::move(left), parseTest(), op.value);
        }
        return left;
    }

    NodePtr parseTest() {
        auto operand = parseFilter();
        while (isIdentifier("is")) {
            const uint32_t offset = next().offset;
            const bool negate = isIdentifier("not");
            if (negate) ++cur_;
            auto test = parsePrimary();
            if (test->kind != NodeKind::kIdentifier) syntaxError("expected the name of a test after 'is'");
            auto n = make(NodeKind::kTest, offset);
            n->text = test->text;
            n->flag = negate;
            n->kids.push_back(std::move(operand));
            operand = seal(std::move(n));
        }
        return operand;
    }

    NodePtr parseFilter() {
        auto operand = parseUnarySign();
        while (is(TokenType::kPipe)) {
            const uint32_t offset = next().offset;
            auto filter = parsePrimary();
            if (filter->kind != NodeKind::kIdentifier) syntaxError("expected the name of a filter after '|'");
            if (is(TokenType::kOpenParen)) filter = parseCall(std::move(filter));
            auto n = make(NodeKind::kFilter, offset);
            n->kids.push_back(std::move(operand));
            n->kids.push_back(std::move(filter));
            operand = seal(std::move(n));
        }
        return operand;
    }

    NodePtr parseUnarySign() {
        DepthGuard guard(*this);
        if (cur_ < tokens_.size()) {
            const Token& t = tokens_[cur_];
            if ((t.type == TokenType::kUnaryOperator || t.type == TokenType::kAdditiveOperator) &&
                (t.value == "-" || t.value == "+")) {
                ++cur_;
                auto n = make(NodeKind::kUnary, t.offset);
                n->text = t.value;
                n->kids.push_back(parseUnarySign());
                return seal(std::move(n));
            }
        }
        auto member = parseMember(parsePrimary());
        if (is(TokenType::kOpenParen)) return parseCall(std::move(member));
        return member;
    }

    NodePtr parseCall(NodePtr callee) {
        DepthGuard guard(*this);
        auto n = make(NodeKind::kCall, callee->offset);
        n->kids.push_back(std::move(callee));
        for (auto& arg : parseArgs(ArgMode::kCall)) n->kids.push_back(std::move(arg));
        auto expr = parseMember(seal(std::move(n)));
        if (is(TokenType::kOpenParen)) expr = parseCall(std::move(expr));
        return expr;
    }

    NodeList parseArgs(ArgMode mode) {
        expect(TokenType::kOpenParen, "'('");
        NodeList args;
        std::set<std::string> names;
        bool saw_keyword = false, saw_spread = false;
        while (!is(TokenType::kCloseParen)) {
            const Token& t = peek();
            const bool keyword_spread = t.type == TokenType::kExponentiationOperator;
            const bool spread = t.type == TokenType::kMultiplicativeOperator && t.value == "*";
            if (mode == ArgMode::kParameters && (keyword_spread || spread)) {
                syntaxError("argument unpacking is not allowed in parameter declarations");
            }
            if (keyword_spread) {
                ++cur_;
                auto n = make(NodeKind::kKeywordSpread, t.offset);
                n->kids.push_back(parseExpression());
                args.push_back(seal(std::move(n)));
                if (is(TokenType::kComma)) ++cur_;
                if (!is(TokenType::kCloseParen)) syntaxError("'**' must be applied to the final argument");
                break;
            }
            NodePtr arg;
            if (spread) {
                if (saw_spread) syntaxError("only one '*' argument unpacking is allowed");
                saw_spread = true;
                ++cur_;
                arg = make(NodeKind::kSpread, t.offset);
                arg->kids.push_back(parseExpression());
                arg = seal(std::move(arg));
            } else {
                arg = parseExpression();
                if (is(TokenType::kEquals)) {
                    ++cur_;
                    if (arg->kind != NodeKind::kIdentifier) {
                        syntaxError(mode == ArgMode::kParameters ? "expected an identifier for a parameter"
                                                                 : "expected an identifier for a keyword argument");
                    }
                    auto kw = make(NodeKind::kKeywordArg, arg->offset);
                    kw->text = arg->text;
                    kw->kids.push_back(parseExpression());
                    arg = seal(std::move(kw));
                }
                if (mode == ArgMode::kParameters) {
                    if (arg->kind != NodeKind::kIdentifier && arg->kind != NodeKind::kKeywordArg) {
                        syntaxError("expected an identifier for a parameter");
                    }
                    if (!names.insert(arg->text).second) syntaxError("duplicate parameter name '" + arg->text + "'");
                }
                if (arg->kind == NodeKind::kKeywordArg) {
                    saw_keyword = true;
                } else if (saw_keyword) {
                    syntaxError(mode == ArgMode::kCall ? "positional arguments must come before keyword arguments"
                                                       : "non-default parameter follows a default parameter");
                } else if (saw_spread) {
                    syntaxError("positional arguments must not follow '*' argument unpacking");
                }
            }
            args.push_back(std::move(arg));
            if (is(TokenType::kComma)) ++cur_;
        }
        expect(TokenType::kCloseParen, "')'");
        return args;
    }

    // [expr] or a slice [start:stop:step] with any part left out.
    NodePtr parseSubscript(uint32_t offset) {
        NodeList parts;
        bool slice = false;
        while (!is(TokenType::kCloseSquareBracket)) {
            if (is(TokenType::kColon)) {
                parts.push_back(nullptr);
                ++cur_;
                slice = true;
            } else {
                parts.push_back(parseExpression());
                if (is(TokenType::kColon)) {
                    ++cur_;
                    slice = true;
                }
            }
        }
        if (parts.empty()) syntaxError("expected an index or slice inside '[]'");
        if (!slice) return std::move(parts[0]);
        if (parts.size() > 3) syntaxError("a slice takes at most three parts");
        auto n = make(NodeKind::kSlice, offset);
        parts.resize(3);
        n->kids = std::move(parts);
        return seal(std::move(n));
    }

    NodePtr parseMember(NodePtr object) {
        while (is(TokenType::kDot) || is(TokenType::kOpenSquareBracket)) {
            const Token& op = next();
            auto n = make(NodeKind::kMember, op.offset);
            n->flag = op.type == TokenType::kOpenSquareBracket;
            NodePtr property;
            if (n->flag) {
                property = parseSubscript(op.offset);
                expect(TokenType::kCloseSquareBracket, "']'");
            } else {
                property = parsePrimary();
                if (property->kind != NodeKind::kIdentifier && property->kind != NodeKind::kInt) {
                    syntaxError("expected a name or an integer after '.'");
                }
            }
            n->kids.push_back(std::move(object));
            n->kids.push_back(std::move(property));
            object = seal(std::move(n));
        }
        return object;
    }

    NodePtr parsePrimary() {
        const Token& t = next();
        switch (t.type) {
            case TokenType::kNumericLiteral: {
                const bool is_float = t.value.find('.') != std::string::npos;
                auto n = make(is_float ? NodeKind::kFloat : NodeKind::kInt, t.offset);
                n->number = std::strtod(t.value.c_str(), nullptr);
                return n;
            }
            case TokenType::kStringLiteral: {
                auto n = make(NodeKind::kString, t.offset);
                n->text = t.value;
                while (is(TokenType::kStringLiteral)) n->text += next().value;
                return n;
            }
            case TokenType::kIdentifier: {
                auto n = make(NodeKind::kIdentifier, t.offset);
                n->text = t.value;
                return n;
            }
            case TokenType::kOpenParen: {
                auto n = parseExpressionSequence(false);
                expect(TokenType::kCloseParen, "')'");
                return n;
            }
            case TokenType::kOpenSquareBracket: {
                auto n = make(NodeKind::kList, t.offset);
                while (!is(TokenType::kCloseSquareBracket)) {
                    n->kids.push_back(parseExpression());
                    if (is(TokenType::kComma)) ++cur_;
                }
                ++cur_;
                return seal(std::move(n));
            }
            case TokenType::kOpenCurlyBracket: {
                auto n = make(NodeKind::kDict, t.offset);
                while (!is(TokenType::kCloseCurlyBracket)) {
                    n->kids.push_back(parseExpression());
                    expect(TokenType::kColon, "':' between a key and its value");
                    n->kids.push_back(parseExpression());
                    if (is(TokenType::kComma)) ++cur_;
                }
                ++cur_;
                return seal(std::move(n));
            }
            default:
                --cur_;
                syntaxError(std::string("unexpected ") + tokenTypeName(t.type));
        }
    }

    const std::vector<Token>& tokens_;
    const SourceMap& map_;
    size_t cur_ = 0;
    int depth_ = 0;
};

}  // namespace

NodeList parse(const std::vector<Token>& tokens, const SourceMap& map) {
    return Parser(tokens, map).run();
}

}  // namespace vki::model::jinja
