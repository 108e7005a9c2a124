//! What the server itself says to the customer (errors, degraded-mode notices, the
//! consent purpose), in the languages the kiosk page has strings for. The page's own
//! strings live in `static/i18n.js`.

use protocol::Service;

/// A language the kiosk speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

impl Locale {
    /// The locale for a BCP 47 tag from the page (`zh-CN` → Chinese), or `default`
    /// when the page asks for one the kiosk has no strings for.
    pub fn negotiate(tag: &str, default: Locale) -> Locale {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Locale::En,
            "zh" => Locale::Zh,
            _ => default,
        }
    }

    /// From the store's configured code (`en` or `zh`, checked at start).
    pub fn from_config(code: &str) -> Locale {
        Locale::negotiate(code, Locale::En)
    }

    /// The code sent to the page.
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Zh => "zh",
        }
    }

    /// The message for `text` in this language.
    pub fn say(self, text: Text) -> String {
        let (en, zh) = text.strings();
        match self {
            Locale::En => en,
            Locale::Zh => zh,
        }
    }
}

/// Everything the server says, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// A service is down; what the customer can still do.
    Unavailable(Service),
    /// What face enrolment is for, shown on the consent screen verbatim.
    ConsentPurpose,
    /// The same, in a line, as the consent record keeps it (at most 200 characters).
    ConsentRecordPurpose,
    /// The message needs a recognised (enrolled) customer.
    NotRecognised,
    /// Enrolment or try-on needs her face in view.
    NoFace,
    /// The consent name is missing or too long.
    BadName,
    /// Typed text over the limit.
    TextTooLong,
    /// Typed text with nothing in it.
    EmptyText,
    /// A binary frame that is not PCM16 within the size limit.
    InvalidAudio,
    /// A camera frame that is not a JPEG within the limits.
    InvalidFrame,
    /// A text frame that is not a protocol message.
    InvalidMessage,
    /// A message type the server does not know.
    UnknownType,
    /// A second hello.
    AlreadyStarted,
    /// A product that is not in the catalogue.
    UnknownProduct,
    /// The dialogue could not answer this turn.
    TurnFailed,
    /// Try-on could not use the photo.
    TryonFailed,
}

impl Text {
    fn strings(self) -> (String, String) {
        let (en, zh): (&str, &str) = match self {
            Text::Unavailable(Service::Voice) => (
                "Voice is unavailable right now: please type, and read my answers on screen.",
                "语音暂时不可用：请输入文字，回答会显示在屏幕上。",
            ),
            Text::Unavailable(Service::Vision) => (
                "The camera service is unavailable: I cannot recognise you or see what you hold up right now.",
                "摄像头服务暂时不可用：现在无法识别您或您拿着的商品。",
            ),
            Text::Unavailable(Service::Dialogue) => (
                "I cannot answer right now. Please ask a member of staff, or try again in a moment.",
                "我现在无法回答。请咨询店员，或稍后再试。",
            ),
            Text::Unavailable(Service::Catalog) => (
                "The catalogue is unavailable right now, so I cannot look up products.",
                "商品目录暂时不可用，现在无法查询商品。",
            ),
            Text::Unavailable(Service::Tryon) => (
                "The mirror is unavailable right now, but I can still bring items to a fitting room.",
                "试衣镜暂时不可用，但我仍可以把商品送到试衣间。",
            ),
            Text::Unavailable(Service::Kiosk) => (
                "The kiosk is unavailable right now.",
                "自助服务终端暂时不可用。",
            ),
            Text::ConsentPurpose => (
                "To recognise you when you come back, greet you by name and remember your sizes and purchases, this kiosk would store a numeric description of your face (not a photo) with your name. You can ask it to forget you at any time.",
                "为了在您再次光临时认出您、称呼您的名字并记住您的尺码和购买记录，本终端将保存您面部的数字特征（不是照片）和您的名字。您可以随时要求删除。",
            ),
            Text::ConsentRecordPurpose => (
                "Recognise me at this store's kiosks from a face embedding, to greet me by name and recall my sizes and purchases.",
                "在本店的终端通过面部特征认出我，称呼我的名字并记住我的尺码和购买记录。",
            ),
            Text::NotRecognised => (
                "I have nothing stored about you: you are not enrolled.",
                "我没有保存关于您的任何信息：您尚未登记。",
            ),
            Text::NoFace => (
                "I cannot see your face clearly: please stand in front of the camera and look at the screen.",
                "我看不清您的脸：请站在摄像头前并看着屏幕。",
            ),
            Text::BadName => (
                "Please enter the name I should greet you by (up to 40 characters).",
                "请输入我该如何称呼您（最多 40 个字符）。",
            ),
            Text::TextTooLong => (
                "That message is too long: please keep it under 500 characters.",
                "消息太长：请控制在 500 个字符以内。",
            ),
            Text::EmptyText => ("Please type something first.", "请先输入内容。"),
            Text::InvalidAudio => (
                "Microphone audio must be 16 kHz mono 16-bit PCM, at most 64 KiB per frame.",
                "麦克风音频必须是 16 kHz 单声道 16 位 PCM，每帧最多 64 KiB。",
            ),
            Text::InvalidFrame => (
                "Camera frames must be JPEG images of at most 8 megapixels.",
                "摄像头画面必须是不超过 800 万像素的 JPEG 图像。",
            ),
            Text::InvalidMessage => (
                "That message could not be read: send a JSON envelope with v and type.",
                "无法读取该消息：请发送包含 v 和 type 的 JSON 消息。",
            ),
            Text::UnknownType => (
                "Unknown message type: see docs/protocol.md for the messages the kiosk takes.",
                "未知的消息类型：请参阅 docs/protocol.md。",
            ),
            Text::AlreadyStarted => ("This session has already started.", "会话已经开始。"),
            Text::UnknownProduct => (
                "I cannot find that product in the catalogue.",
                "目录中找不到该商品。",
            ),
            Text::TurnFailed => (
                "Sorry, I could not answer that. Please try again.",
                "抱歉，我无法回答。请再试一次。",
            ),
            Text::TryonFailed => (
                "The mirror could not use this picture: please stand facing the camera.",
                "试衣镜无法使用这张画面：请面对摄像头站立。",
            ),
        };
        (en.to_owned(), zh.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tags_pick_a_supported_locale_or_the_store_default() {
        assert_eq!(Locale::negotiate("zh-CN", Locale::En), Locale::Zh);
        assert_eq!(Locale::negotiate("en_GB", Locale::Zh), Locale::En);
        assert_eq!(Locale::negotiate("fr-FR", Locale::Zh), Locale::Zh);
        assert_eq!(Locale::negotiate("", Locale::En), Locale::En);
    }

    #[test]
    fn every_text_has_both_languages() {
        let texts = [
            Text::ConsentPurpose,
            Text::ConsentRecordPurpose,
            Text::NoFace,
            Text::Unavailable(Service::Voice),
            Text::Unavailable(Service::Tryon),
            Text::InvalidAudio,
        ];
        for text in texts {
            let (en, zh) = (Locale::En.say(text), Locale::Zh.say(text));
            assert!(en.is_ascii(), "{en}");
            assert!(!zh.is_ascii(), "{zh}");
            if text == Text::ConsentRecordPurpose {
                // The catalog keeps at most 200 characters of purpose.
                assert!(en.chars().count() <= 200 && zh.chars().count() <= 200);
            }
        }
    }
}
