"""Hand-written pieces of the tokenizer parity corpus, one list per category (see make_tokenizer_corpus.py).

Every piece is here because it stresses a different branch of a tokenizer: the Llama 3 split regex
(contractions, \\p{L}/\\p{N} runs, whitespace lookahead, punctuation followed by newlines), SentencePiece byte
fallback for characters outside the Llama 2 vocabulary, added-token matching, and the decoders. The text was
written for this corpus (no third-party text); non-English sentences are common phrases.
"""

PROSE = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world!",
    "hello world",
    "HELLO WORLD",
    "Hello World",
    " Hello",
    "Hello ",
    "It was the best of times; it was also, for some, a Tuesday.",
    "She sells sea-shells by the sea-shore (allegedly).",
    "A man, a plan, a canal: Panama.",
    "Why? Because we can! Or can we...?",
    "The meeting is at 10:30 a.m. on Monday -- don't be late.",
    "Dr. Smith, Mr. Jones and Ms. O'Neil arrived at 5 p.m. sharp.",
    "He said, \"I'll be there,\" but he wasn't.",
    "'Single quotes' and \"double quotes\" and `backticks`.",
    "\u201cCurly quotes\u201d and \u2018apostrophes\u2019 \u2014 plus an em dash \u2013 and an en dash.",
    "Ellipsis\u2026 and three dots... differ.",
    "Semi-colons; colons: commas, periods. Exclamation! Question?",
    "The GPU's memory bandwidth is 3.35 TB/s; the CPU's is far lower.",
    "Large language models predict the next token given the previous ones.",
    "Tokenization splits text into pieces that a model can look up in its vocabulary.",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong stepped out first.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The mitochondria is the powerhouse of the cell.",
    "Water boils at 100 \u00b0C (212 \u00b0F) at sea level.",
    "To be, or not to be, that is the question.",
    "All work and no play makes Jack a dull boy. All work and no play makes Jack a dull boy.",
    "Once upon a time, in a land far, far away, there lived a small dragon who was afraid of fire.",
    "Please remember to bring: pens, paper, a calculator, and your ID card.",
    "Q: What is 2+2?\nA: 4.",
    "Dear Sir or Madam,\n\nI am writing to inquire about the position advertised on your website.\n\nSincerely,\nA. Person",
    "First line.\nSecond line.\nThird line.",
    "Paragraph one ends here.\n\nParagraph two starts here.",
    "e.g. i.e. etc. vs. a.k.a. U.S.A. U.K. Ph.D.",
    "camelCaseWord PascalCaseWord snake_case_word kebab-case-word SCREAMING_SNAKE_CASE",
    "iPhone eBay McDonald's O'Reilly MacBook YouTube",
    "ALL CAPS SENTENCE WITH SOME lower case WORDS MIXED IN.",
    "aAaAaA bBbBbB CcCcCc",
    "The rain in Spain stays mainly in the plain; the fog in London stays mainly in the lungs.",
    "Is this the real life? Is this just fantasy?",
    "Rock, paper, scissors: rock beats scissors, scissors beats paper, paper beats rock.",
    "An apple a day keeps the doctor away, or so they say.",
    "Beware of bugs in the above code; I have only proved it correct, not tried it.",
    "Premature optimization is the root of all evil (or at least most of it) in programming.",
    "(parentheses) [brackets] {braces} <angles>",
    "#hashtag @mention $dollar %percent ^caret &ampersand *asterisk",
    "~tilde |pipe \\backslash /slash _underscore +plus =equals",
]

CODE = [
    "#include <iostream>\n\nint main() {\n    std::cout << \"Hello, world!\" << std::endl;\n    return 0;\n}\n",
    "template <typename T>\nT max_of(const std::vector<T>& v) {\n  T best = v[0];\n  for (const auto& x : v)"
    " if (x > best) best = x;\n  return best;\n}",
    "auto [it, inserted] = map.try_emplace(key, std::move(value));\nif (!inserted) it->second += 1;",
    "std::unique_ptr<Foo> p = std::make_unique<Foo>(/*size=*/42, nullptr);  // owns the buffer",
    "#define MIN(a, b) ((a) < (b) ? (a) : (b))\n#pragma once\n",
    "int* x = &y; x->z = **w; a <<= 2; b >>= 3; c != d && e || !f;",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "class Point:\n\tdef __init__(self, x, y):\n\t\tself.x = x\n\t\tself.y = y\n\n\tdef __repr__(self):\n\t\t"
    "return f\"Point({self.x}, {self.y})\"\n",
    "for i in range(10):\n    for j in range(i):\n        if (i + j) % 3 == 0:\n            print(i, j)\n"
    "        else:\n            continue\n",
    "import numpy as np\n\nx = np.arange(12).reshape(3, 4)\nprint(x.T @ x)\n",
    "    # indented comment\n    pass\n",
    "\t\tdeeply_tabbed = True\n\t\t\tdeeper = [1, 2, 3]\n",
    "lambda x: x ** 2 if x >= 0 else -x  # square or negate",
    "async def handler(request):\n    data = await request.json()\n    return {\"ok\": True, **data}\n",
    "{\"name\": \"mixserve\", \"version\": \"0.1.0\", \"tags\": [\"llm\", \"serving\"], \"nested\": {\"a\": 1, "
    "\"b\": null, \"c\": true}}",
    "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 4096,\n  \"rope_theta\": 500000.0,\n  \"eos_token_id\": "
    "[128001, 128009]\n}",
    "[{\"id\":1},{\"id\":2},{\"id\":3}]",
    "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do\n  wc -l \"$f\"\ndone | sort -n | tail -3\n",
    "cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build -j$(nproc)",
    "ls -la /usr/share | grep -v '^d' > /tmp/out.txt 2>&1 &",
    "export PATH=\"$HOME/.local/bin:$PATH\"; echo ${PATH%%:*}",
    "fn main() {\n    let v: Vec<i32> = (1..=10).filter(|x| x % 2 == 0).collect();\n    println!(\"{:?}\", v);\n}",
    "const add = (a, b) => a + b;\nconsole.log(`sum: ${add(1, 2)}`);\n",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE 'A%' ORDER BY name DESC LIMIT 10;",
    "<!DOCTYPE html>\n<html>\n  <body>\n    <p class=\"intro\">Hi &amp; welcome</p>\n  </body>\n</html>",
    "all: build\n\nbuild:\n\t$(CC) -O2 -o app main.c\n\nclean:\n\trm -f app\n",
    "server:\n  port: 8080\n  hosts:\n    - a.example.com\n    - b.example.com\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
    "if (x == null) { throw new IllegalArgumentException(\"x\"); }",
    "x=1;y=2;z=x+y;print(z)",
    "a.b.c.d.e.f()",
    "foo_bar_baz.qux_quux(corge=grault, garply=waldo)",
    "0x1F 0xDEADBEEF 0b1010 0o755 1e-9 3.14f 42ULL",
    "}}}}]]]]))))",
    ";;;;::::,,,,....",
    "# Comment\n// Comment\n/* Comment */\n<!-- Comment -->\n-- Comment\n",
    "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-old line\n+new line\n",
    "Traceback (most recent call last):\n  File \"main.py\", line 3, in <module>\n    1/0\nZeroDivisionError: "
    "division by zero",
    "$ echo 'hello' | tr a-z A-Z\nHELLO\n",
    "\\documentclass{article}\n\\begin{document}\n$E = mc^2$ and $\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$\n"
    "\\end{document}",
]

NUMBERS = [
    "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "1234567890",
    "0", "00", "000", "0000", "007", "-1", "-12", "-1234", "+42", "3.14", "3.14159265358979", "-0.5", ".5",
    "0.001", "1e10", "6.022e23", "1,000", "1,000,000", "1.000.000,50", "12,345.67", "$1,234.56", "\u20ac99.99",
    "\u00a3100", "\u00a5500", "50%", "99.9%", "2024-01-15", "15/01/2024", "01/15/2024", "2024-01-15T10:30:00Z",
    "10:30:45.123", "+1 (555) 123-4567", "555-0100", "+44 20 7946 0958", "+49 30 123456", "192.168.0.1",
    "127.0.0.1:8080", "::1", "fe80::1ff:fe23:4567:890a", "v1.2.3", "3.10.12", "ISBN 978-3-16-148410-0",
    "4111 1111 1111 1111", "1/2", "3/4", "1:2:3", "1-2-3", "1x2x3", "1st 2nd 3rd 4th 11th 21st 101st",
    "The year 1999 had 365 days; 2000 had 366.", "Call 911 or 112.", "42 is the answer; 420 is not; 4200 is more.",
    "pi = 3.1415926535897932384626433832795028841971693993751",
    "2^10 = 1024, 2^20 = 1048576, 2^32 = 4294967296, 2^64 = 18446744073709551616",
    "Room 101, Floor 7, Building 4B", "ABC123DEF456", "a1b2c3d4e5", "x86_64 arm64 sm_90a", "MP3 MP4 H264 4K 8K",
    "COVID-19 G7 G20 F-16 B-52 A4 Web3", "1 2 3 4 5 6 7 8 9 10", "1  2   3    4",
    "12345678901234567890123456789012345678901234567890",
]

CJK = [
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01",
    "\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8\u3002",
    "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u6563\u6b65\u5427\u3002",
    "\u673a\u5668\u5b66\u4e60\u662f\u4eba\u5de5\u667a\u80fd\u7684\u4e00\u4e2a\u5206\u652f\u3002",
    "\u5927\u8bed\u8a00\u6a21\u578b\uff08LLM\uff09\u9700\u8981\u5206\u8bcd\u5668\u3002",
    "\u7e41\u9ad4\u4e2d\u6587\u8207\u7c21\u9ad4\u4e2d\u6587\u4e0d\u540c\u3002",
    "\u4e2d\u6587English\u6df7\u5408123\u6570\u5b57",
    "\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\uff01",
    "\u79c1\u306f\u5b66\u751f\u3067\u3059\u3002\u6771\u4eac\u306b\u4f4f\u3093\u3067\u3044\u307e\u3059\u3002",
    "\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3068\u6f22\u5b57\u3002",
    "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u306b\u306f\u30b9\u30da\u30fc\u30b9\u304c\u3042\u308a\u307e\u305b\u3093\u3002",
    "\uff83\uff9d\uff8e\uff9f\uff97 \u534a\u89d2\u30ab\u30ca",
    "\uc548\ub155\ud558\uc138\uc694, \uc138\uacc4!",
    "\ud55c\uad6d\uc5b4\ub294 \ub744\uc5b4\uc4f0\uae30\ub97c \uc0ac\uc6a9\ud569\ub2c8\ub2e4.",
    "\uc11c\uc6b8\uc740 \ub300\ud55c\ubbfc\uad6d\uc758 \uc218\ub3c4\uc785\ub2c8\ub2e4.",
    "\u1100\u1161\u11a8 (conjoining jamo) \uac01 (precomposed)",
    "\u3000\u5168\u89d2\u30b9\u30da\u30fc\u30b9\u3000\u3068\u53e5\u8aad\u70b9\u3001\u3002",
    "\u300c\u5f15\u7528\u300d\u300e\u4e8c\u91cd\u300f\u3010\u62ec\u5f27\u3011",
    "\U0002070E\U0002000B (CJK Extension B)",
    "\u9f98\u9f49\u9a6b\u7228 rare characters",
    "\u4e00\u4e8c\u4e09\u56db\u4e94\u516d\u4e03\u516b\u4e5d\u5341\u767e\u5343\u4e07\u4ebf",
]

EMOJI = [
    "\U0001F600", "\U0001F602\U0001F602\U0001F602", "I love it \u2764\ufe0f!", "\u2764", "\u2764\ufe0f",
    "\U0001F44D", "\U0001F44D\U0001F3FB", "\U0001F44D\U0001F3FD", "\U0001F44D\U0001F3FF",
    "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466",
    "\U0001F469\U0001F3FD\u200D\U0001F4BB", "\U0001F3F3\ufe0f\u200D\U0001F308", "\U0001F3F4\u200D\u2620\ufe0f",
    "\U0001F1FA\U0001F1F8", "\U0001F1EF\U0001F1F5\U0001F1E9\U0001F1EA\U0001F1EB\U0001F1F7",
    "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", "1\ufe0f\u20e3 #\ufe0f\u20e3",
    "Party time \U0001F389\U0001F38A\U0001F973!", "\U0001F680 to the \U0001F315",
    "\U0001F9D1\u200D\U0001F91D\u200D\U0001F9D1", "\u263A\u2639\u2620\u2622\u2623",
    "\u2600\ufe0f\u26C5\U0001F327\ufe0f\u2744\ufe0f", "Done \u2705 Failed \u274C Warning \u26A0\ufe0f",
    "\U0001F600\U0001F601\U0001F602\U0001F603\U0001F604\U0001F605\U0001F606\U0001F607\U0001F608\U0001F609",
    "emoji\U0001F600inside\U0001F600words", "\U0001FAE0\U0001FAE8\U0001FA77", "\u00a9\u00ae\u2122",
]

ACCENTS = [
    "caf\u00e9", "cafe\u0301", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e", "na\u00efve r\u00e9sum\u00e9 fa\u00e7ade",
    "\u00c9cole \u00e9l\u00e9mentaire", "E\u0301cole", "Stra\u00dfe \u00dcbung \u00c4rger \u00d6l",
    "Ma\u00f1ana el ni\u00f1o come pi\u00f1a.", "S\u00e3o Paulo, Portugu\u00eas, cora\u00e7\u00e3o",
    "Ti\u1ebfng Vi\u1ec7t c\u00f3 nhi\u1ec1u d\u1ea5u.", "Tie\u0302\u0301ng Vie\u0323\u0302t (decomposed)",
    "\u0141\u00f3d\u017a Krak\u00f3w \u017b\u00f3\u0142w", "\u010cesk\u00fd Krumlov, \u0159e\u0159icha",
    "\u00c5ngstr\u00f6m \u212bngstr\u00f6m", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319"
    "\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368"
    "\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342"
    "\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333", "\u00fe\u00f0\u00e6\u00f8\u00e5 \u00de\u00d0\u00c6\u00d8\u00c5",
    "\u0131\u0130 i\u0307 (Turkish dotless/dotted i)", "\ufb01nance \ufb02ow (ligatures)",
    "\u1e9e \u00df SS (capital sharp s)", "a\u0300\u0301\u0302\u0303\u0304 stacked",
]

SCRIPTS = [
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0627\u0644\u0644\u063a\u0629 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u062c\u0645\u064a\u0644\u0629 "
    "\u0661\u0662\u0663",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd", "\u05e2\u05b4\u05d1\u05b0\u05e8\u05b4\u05d9\u05ea "
    "\u05e2\u05b4\u05dd \u05e0\u05b4\u05e7\u05bc\u05d5\u05bc\u05d3",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u041c\u043e\u0441\u043a\u0432\u0430 \u2014 "
    "\u0441\u0442\u043e\u043b\u0438\u0446\u0430 \u0420\u043e\u0441\u0441\u0438\u0438.",
    "\u0423\u043a\u0440\u0430\u0457\u043d\u0430 \u0411\u044a\u043b\u0433\u0430\u0440\u0438\u044f "
    "\u0421\u0440\u0431\u0438\u0458\u0430",
    "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5!",
    "\u03b1\u03b2\u03b3\u03b4\u03b5 \u0391\u0392\u0393\u0394\u0395 \u03c0r\u00b2",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e \u0967\u0968\u0969",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07\u0e27\u0e48"
    "\u0e32\u0e07",
    "\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0", "\u0532\u0561\u0580\u0565\u0582",
    "\u0bb5\u0ba3\u0b95\u0bcd\u0b95\u0bae\u0bcd", "\u09a8\u09ae\u09b8\u09cd\u0995\u09be\u09b0",
    "\u1230\u120b\u121d", "\u0dc3\u0dd4\u0db7 \u0d87\u0dc3\u0dd4\u0dbb", "\u1019\u1004\u103a\u1039\u1002\u101c\u102c\u1015\u102b",
    "English \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea \u0420\u0443\u0441\u0441\u043a"
    "\u0438\u0439 \u4e2d\u6587",
    "\u200fRTL mark\u200e LTR mark \u202aembedded\u202c",
    "Hello\u043f\u0440\u0438\u0432\u0435\u0442\u4f60\u597d\u3053\u3093\u306b\u3061\u306f",
]

CONTRACTIONS = [
    "it's", "It's", "IT'S", "don't", "DON'T", "Don'T", "we're", "WE'RE", "I've", "I'VE", "I'm", "I'M", "you'll",
    "YOU'LL", "he'd", "HE'D", "John's", "JOHN'S", "the dog's bone", "the dogs' bones", "'s", "'t", "'re", "'ve",
    "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "'x", "''s", "'ss", "'lll",
    "I'd've thought y'all'd know", "rock 'n' roll", "'twas the night", "ma'am", "o'clock",
    "shouldn't've", "it\u2019s (curly apostrophe)", "don\u2019t", "x's y't z're", "123's", "\u4e2d's", "'s's's",
    "We're sure they'll say it's what we'd've done, aren't we?",
]

SPECIAL_LOOKALIKES = [
    "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|reserved_special_token_0|>", "<|reserved_special_token_250|>", "<|python_tag|>", "<|eom_id|>",
    "<|begin_of_text|>Hello", "Hello<|eot_id|>", "<|begin_of_text|><|begin_of_text|>",
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
    "\n\n",
    " <|eot_id|> ", "text <|eot_id|>text", "<|begin_of", "begin_of_text|>", "<|begin_of_text", "<|eot_id",
    "<|eot_id|", "|eot_id|>", "<||>", "<|>", "<|", "|>", "<| eot_id |>", "<|EOT_ID|>", "<|eot-id|>",
    "<<|eot_id|>>", "<|<|eot_id|>|>", "<s>", "</s>", "<unk>", "<s>Hello</s>", "< s >", "<s >", "< s>", "<S>",
    "<ss>", "<s", "s>", "</s", "<s><s></s></s>", " <s> ", "Hello <s> world </s> !", "<unk><unk>", "<pad>",
    "<mask>", "[INST] Hi [/INST]", "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]", "[CLS] [SEP] [PAD]",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>", "<|endoftext|>",
    "<0x41>", "<0x0A>", "<0xFF>", "\u2581", "\u2581\u2581Hello\u2581world", "\u0120Hello \u010a",
]

URLS_MARKDOWN = [
    "https://www.example.com/path/to/page?query=1&sort=desc#section-2",
    "http://localhost:8000/v1/chat/completions",
    "ftp://files.example.org/pub/linux-6.1.tar.xz",
    "mailto:someone@example.com", "user.name+tag@sub.example.co.uk", "www.example.com", "example.com/a_b-c.d",
    "https://en.wikipedia.org/wiki/Tokenization_(lexical_analysis)",
    "https://example.com/%E4%BD%A0%E5%A5%BD?q=%20space", "git@github.com:owner/repo.git",
    "/usr/local/lib/python3.11/site-packages/foo/__init__.py", "C:\\Users\\Admin\\Documents\\file (1).txt",
    "../relative/./path/../file.txt", "~/.config/app/settings.json",
    "# Heading 1\n\n## Heading 2\n\nSome **bold** and *italic* and `code` text.\n",
    "- item one\n- item two\n  - nested item\n1. first\n2. second\n",
    "| col A | col B |\n|-------|------:|\n| 1     | 2     |\n| 3     | 4     |\n",
    "```python\nprint('hi')\n```\n", "> quoted text\n> more quoted\n\n---\n",
    "[a link](https://example.com) and ![an image](img.png \"title\")", "~~strike~~ __bold__ _em_ <br/> &nbsp;",
    "* * *\n***\n___\n", "- [ ] todo\n- [x] done\n",
]

# Whitespace that is not a space, tab or newline: the Llama 3 regex's \s and SentencePiece treat these
# differently from ASCII space, so every one is worth a string of its own.
UNUSUAL_SPACES = ["\u00a0", "\u1680", "\u2000", "\u2002", "\u2003", "\u2009", "\u200a", "\u200b", "\u2028",
                  "\u2029", "\u202f", "\u205f", "\u3000", "\u0085", "\u000b", "\u000c", "\u001c", "\u001f",
                  "\ufeff", "\u180e", "\u2060"]

# Single characters beyond printable ASCII: controls, digits of other scripts (\p{N} but not ASCII), letters
# outside the BMP, private use, noncharacters and the replacement character.
SINGLE_CHARS = ["\u0000", "\u0001", "\u0007", "\u001b", "\u007f", "\u0080", "\u009f", "\u00ad", "\u00b2",
                "\u00bd", "\u2153", "\u2162", "\u216b", "\u2460", "\u0663", "\u0969", "\uff11", "\U0001D7D8",
                "\U0001D400", "\U0001D56B", "\U00010348", "\ue000", "\U000F0000", "\ufffd", "\ufffe", "\U0010FFFF",
                "\u00e9", "\u0301", "\u4e2d", "\u3042", "\uac00", "\u0416", "\u05d0", "\u0627", "\u0e01", "\u2603",
                "\u20ac", "\u00a3", "\u221e", "\u2211", "\u2192", "\u2713", "\u00b7", "\u2022"]

# Mixes of digits of other scripts with ASCII ones: \p{N}{1,3} groups them across scripts.
NUMBER_SCRIPTS = ["\u0661\u0662\u0663\u0664\u0665", "\u0967\u0968\u0969\u096a", "\uff11\uff12\uff13\uff14",
                  "12\u00b345", "\u2460\u2461\u2462\u2463", "\u2160\u2161\u2162\u2163", "1\u00bd cups",
                  "x\u00b2 + y\u00b2 = z\u00b2", "\U0001D7D9\U0001D7DA\U0001D7DB\U0001D7DC", "1\u0663\u0969\uff14"]
