#include "coordinator/chat/jinja_parser.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "coordinator/chat/jinja_expr_parser.h"
#include "coordinator/chat/jinja_lexer.h"

namespace mixserve::jinja {
namespace {

// Tags of full Jinja that this interpreter does not run; naming them gives a precise error at load time.
constexpr std::string_view kUnsupportedTags[] = {
    "macro", "endmacro", "call", "endcall", "filter", "endfilter", "include", "import", "from", "extends",
    "block", "endblock", "with", "endwith", "autoescape", "endautoescape", "do", "trans", "pluralize",
    "endtrans", "endraw", "print"};

std::unique_ptr<Stmt> make_stmt(StmtKind kind, int line) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->line = line;
  return s;
}

class StatementParser {
 public:
  explicit StatementParser(std::vector<Token> tokens) : t_(std::move(tokens)), expr_(t_) {}

  Result<Body> parse() {
    MIXSERVE_ASSIGN_OR_RETURN(Parsed parsed, parse_body({}));
    return std::move(parsed.body);
  }

 private:
  struct Parsed {
    Body body;
    std::string end_tag;  // the end tag that stopped the body; empty at the end of the template
  };

  // Statements up to the end of the template or a block tag named in `end_tags`; that tag's name is consumed
  // and its `%}` left to the caller (an `elif` still has a condition to parse).
  Result<Parsed> parse_body(std::initializer_list<std::string_view> end_tags) {
    Parsed parsed;
    while (true) {
      const Token& t = t_.peek();
      if (t.kind == TokenKind::end) {
        if (end_tags.size() == 0) return parsed;
        return syntax_error(t.line, "unexpected end of template, expected '{% " +
                                        std::string(*(end_tags.end() - 1)) + " %}'");
      }
      if (t.kind == TokenKind::text) {
        auto s = make_stmt(StmtKind::text, t.line);
        s->text = t_.next().value;
        parsed.body.push_back(std::move(s));
        continue;
      }
      if (t.kind == TokenKind::print_begin) {
        auto s = make_stmt(StmtKind::print, t_.next().line);
        MIXSERVE_ASSIGN_OR_RETURN(s->expr, expr_.parse_tuple(true));
        MIXSERVE_RETURN_IF_ERROR(t_.expect_kind(TokenKind::print_end, "'}}'"));
        parsed.body.push_back(std::move(s));
        continue;
      }
      const int line = t_.next().line;  // block_begin
      if (t_.peek().kind != TokenKind::name) return syntax_error(line, "expected a tag name after '{%'");
      std::string name = t_.next().value;
      if (std::find(end_tags.begin(), end_tags.end(), name) != end_tags.end()) {
        parsed.end_tag = std::move(name);
        return parsed;
      }
      if (name == "elif" || name == "else" || name.rfind("end", 0) == 0) {
        const std::string expected =
            end_tags.size() == 0 ? "" : ", expected '{% " + std::string(*(end_tags.end() - 1)) + " %}'";
        return syntax_error(line, "unexpected '{% " + name + " %}'" + expected);
      }
      MIXSERVE_ASSIGN_OR_RETURN(std::unique_ptr<Stmt> stmt, parse_tag(name, line));
      parsed.body.push_back(std::move(stmt));
    }
  }

  Status end_tag() { return t_.expect_kind(TokenKind::block_end, "'%}'"); }

  Result<std::unique_ptr<Stmt>> parse_tag(const std::string& name, int line) {
    if (name == "if") return parse_if(line);
    if (name == "for") return parse_for(line);
    if (name == "set") return parse_set(line);
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) return syntax_error(line, "'" + name + "' outside of a for loop");
      MIXSERVE_RETURN_IF_ERROR(end_tag());
      return make_stmt(name == "break" ? StmtKind::break_loop : StmtKind::continue_loop, line);
    }
    if (name == "generation") {  // HF's marker for assistant-token masks; renders its body unchanged
      auto s = make_stmt(StmtKind::scope, line);
      MIXSERVE_RETURN_IF_ERROR(end_tag());
      MIXSERVE_ASSIGN_OR_RETURN(Parsed parsed, parse_body({"endgeneration"}));
      s->body = std::move(parsed.body);
      MIXSERVE_RETURN_IF_ERROR(end_tag());
      return s;
    }
    if (std::find(std::begin(kUnsupportedTags), std::end(kUnsupportedTags), name) != std::end(kUnsupportedTags))
      return unsupported_construct(line, "{% " + name + " %}");
    return syntax_error(line, "unknown tag '" + name + "'");
  }

  Result<std::unique_ptr<Stmt>> parse_if(int line) {
    auto s = make_stmt(StmtKind::if_chain, line);
    while (true) {
      MIXSERVE_ASSIGN_OR_RETURN(ExprPtr cond, expr_.parse_tuple(false));
      MIXSERVE_RETURN_IF_ERROR(end_tag());
      MIXSERVE_ASSIGN_OR_RETURN(Parsed parsed, parse_body({"elif", "else", "endif"}));
      s->branches.emplace_back(std::move(cond), std::move(parsed.body));
      if (parsed.end_tag == "elif") continue;
      MIXSERVE_RETURN_IF_ERROR(end_tag());
      if (parsed.end_tag == "else") {
        MIXSERVE_ASSIGN_OR_RETURN(Parsed else_part, parse_body({"endif"}));
        s->else_body = std::move(else_part.body);
        MIXSERVE_RETURN_IF_ERROR(end_tag());
      }
      return s;
    }
  }

  // `a`, `a, b` or `(a, b)`.
  Result<std::vector<std::string>> parse_targets() {
    std::vector<std::string> names;
    const bool parenthesized = t_.skip_op("(");
    do {
      MIXSERVE_ASSIGN_OR_RETURN(std::string name, t_.expect_name());
      names.push_back(std::move(name));
    } while (t_.skip_op(","));
    if (parenthesized) MIXSERVE_RETURN_IF_ERROR(t_.expect_op(")"));
    return names;
  }

  Result<std::unique_ptr<Stmt>> parse_for(int line) {
    auto s = make_stmt(StmtKind::for_loop, line);
    MIXSERVE_ASSIGN_OR_RETURN(s->targets, parse_targets());
    if (!t_.skip_name("in")) return syntax_error(t_.peek().line, "expected 'in' in a for loop");
    MIXSERVE_ASSIGN_OR_RETURN(s->expr, expr_.parse_tuple(false));
    if (t_.skip_name("if")) {
      MIXSERVE_ASSIGN_OR_RETURN(s->filter, expr_.parse_expression(true));
    }
    if (t_.at_name("recursive")) return unsupported_construct(line, "recursive for loop");
    MIXSERVE_RETURN_IF_ERROR(end_tag());
    ++loop_depth_;
    auto body = parse_body({"else", "endfor"});
    --loop_depth_;
    if (!body.ok()) return body.status();
    s->body = std::move(body->body);
    MIXSERVE_RETURN_IF_ERROR(end_tag());
    if (body->end_tag == "else") {
      MIXSERVE_ASSIGN_OR_RETURN(Parsed else_part, parse_body({"endfor"}));
      s->else_body = std::move(else_part.body);
      MIXSERVE_RETURN_IF_ERROR(end_tag());
    }
    return s;
  }

  Result<std::unique_ptr<Stmt>> parse_set(int line) {
    auto s = make_stmt(StmtKind::set, line);
    MIXSERVE_ASSIGN_OR_RETURN(std::string first, t_.expect_name());
    s->targets.push_back(std::move(first));
    if (t_.skip_op(".")) {  // {% set ns.attr = value %}
      s->kind = StmtKind::set_attribute;
      MIXSERVE_ASSIGN_OR_RETURN(std::string attribute, t_.expect_name());
      s->targets.push_back(std::move(attribute));
    } else {
      while (t_.skip_op(",")) {
        MIXSERVE_ASSIGN_OR_RETURN(std::string name, t_.expect_name());
        s->targets.push_back(std::move(name));
      }
    }
    if (t_.skip_op("=")) {
      MIXSERVE_ASSIGN_OR_RETURN(s->expr, expr_.parse_tuple(true));
      MIXSERVE_RETURN_IF_ERROR(end_tag());
      return s;
    }
    if (t_.at_op("|")) return unsupported_construct(line, "filter on a {% set %} block");
    if (s->targets.size() != 1) return syntax_error(line, "a {% set %} block assigns exactly one name");
    MIXSERVE_RETURN_IF_ERROR(end_tag());
    s->kind = StmtKind::set_block;
    MIXSERVE_ASSIGN_OR_RETURN(Parsed parsed, parse_body({"endset"}));
    s->body = std::move(parsed.body);
    MIXSERVE_RETURN_IF_ERROR(end_tag());
    return s;
  }

  TokenStream t_;
  ExprParser expr_;
  int loop_depth_ = 0;
};

}  // namespace

Result<Body> parse_template(const std::string& source) {
  MIXSERVE_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source));
  return StatementParser(std::move(tokens)).parse();
}

}  // namespace mixserve::jinja
