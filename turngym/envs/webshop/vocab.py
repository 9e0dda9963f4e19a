"""Word tables for the generated catalog: WebShop's five categories and the product types in them.

Each product type carries what a scraped Amazon listing of that kind has: the search query it was
scraped under (upstream's ``query``), its breadcrumb (``product_category``), the nouns of its titles,
the attribute phrases annotators picked for it (``items_ins_v2`` attributes), its option types with
their values (``customization_options``), and a log-normal price (median, spread). The tables are
data, not code: adding a type is adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProductType:
    category: str
    query: str
    breadcrumb: str
    nouns: tuple[str, ...]
    attributes: tuple[str, ...]
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    price: tuple[float, float] = (20.0, 0.5)  # median dollars, log-space sigma
    audiences: tuple[str, ...] = ()


# -- shared option pools ---------------------------------------------------------------------------
# No option value may contain a colour of reward.COLOR_SET inside another word ('sandalwood' ->
# 'sand', 'dark wash' -> 'ash'): normalize_color would turn the purchased value into a fragment that
# no longer matches the goal's stringified (name, value) tuple, and even the right purchase would
# score below 1 (upstream's quirk; tests/webshop check the pools against it).
COLORS = (
    "black", "white", "navy blue", "grey", "light grey", "red", "wine red", "royal blue", "dark green",
    "olive", "khaki", "beige", "brown", "coffee", "pink", "hot pink", "purple", "lavender", "yellow",
    "mustard", "orange", "coral", "teal", "turquoise", "silver", "gold", "rose gold", "ivory", "camel",
    "charcoal", "multicolor", "denim blue", "mint green", "burgundy", "apricot",
)
APPAREL_SIZES = ("x-small", "small", "medium", "large", "x-large", "xx-large", "3x-large", "4x-large")
SHOE_SIZES = tuple(f"{s}" for s in ("6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12", "13"))
PACKS = ("pack of 1", "pack of 2", "pack of 3", "pack of 4", "pack of 6", "pack of 12", "pack of 24")
OUNCES = ("1 ounce", "2 ounce", "3.4 fl oz", "4 fl oz (pack of 1)", "6.76 fl oz", "8 ounce", "12 ounce (pack of 2)", "16 fl oz", "33.8 fl oz")
FLAVORS = (
    "vanilla", "chocolate", "strawberry", "original", "sea salt", "honey", "cinnamon", "peanut butter",
    "mixed berry", "lemon", "caramel", "mint chocolate", "coconut", "cherry", "wild berry", "salted caramel",
    "cookies and cream", "spicy", "barbecue", "sour cream and onion", "unsweetened", "matcha",
)
SCENTS = ("lavender", "unscented", "bright citrus", "eucalyptus mint", "coconut", "rose", "vanilla", "cedarwood", "fresh linen", "ocean breeze", "tea tree")
HAIR_COLORS = ("jet black", "natural black", "dark brown", "chestnut brown", "ash blonde", "honey blonde", "platinum blonde", "auburn", "burgundy", "ombre brown")
LENGTHS = ("14 inch", "16 inch", "18 inch", "20 inch", "22 inch", "24 inch")
DEVICE_COLORS = ("black", "white", "silver", "space grey", "blue", "red", "rose gold")
CAPACITIES = ("32gb", "64gb", "128gb", "256gb", "512gb", "1tb", "2tb")
FURNITURE_COLORS = ("espresso", "walnut", "natural oak", "white", "black", "grey", "dark brown", "cherry", "navy blue", "beige")
BED_SIZES = ("twin", "full", "queen", "king", "california king")

# -- brands (generated product lines are named after invented brands) ---------------------------
BRAND_HEADS = (
    "Aur", "Bel", "Cor", "Dav", "Eld", "Fen", "Gal", "Hal", "Iso", "Jun", "Kel", "Lum", "Mar", "Nor", "Ost",
    "Pel", "Quin", "Ros", "Sol", "Tav", "Ulm", "Ver", "Wen", "Xan", "Yor", "Zel", "Bram", "Cal", "Dor", "Fel",
)
BRAND_TAILS = ("ora", "ex", "ina", "ton", "ley", "ova", "ix", "ano", "ia", "ero", "wood", "stone", "field", "bay", "lyn", "ara", "ique", "en")
BRAND_SUFFIXES = ("", "", "", " Co.", " Home", " Labs", " Naturals", " Essentials", " Store", " Direct")

ADJECTIVES = ("premium", "classic", "ultra", "deluxe", "essential", "original", "pro", "advanced", "everyday", "signature")
PHRASES = ("i am looking for", "i need", "i want", "i would like", "find me", "i'm looking for", "please find", "get me")

_BEAUTY = "Beauty & Personal Care"
_ELEC = "Electronics"
_FASHION = "Clothing, Shoes & Jewelry"
_FOOD = "Grocery & Gourmet Food"
_HOME = "Home & Kitchen"

PRODUCT_TYPES: tuple[ProductType, ...] = (
    # -- beauty ---------------------------------------------------------------------------------
    ProductType("beauty", "deodorant", f"{_BEAUTY} › Personal Care › Deodorants & Antiperspirants › Deodorants", ("deodorant", "stick"),
                ("aluminum free", "natural ingredients", "sensitive skin", "long lasting", "paraben free", "cruelty free", "travel size", "baking soda free"),
                {"scent": SCENTS, "size": ("2.6 ounce (pack of 1)", "3 ounce (pack of 2)", "travel set (4-pack)")}, (11.0, 0.4), ("for women", "for men")),
    ProductType("beauty", "shampoo", f"{_BEAUTY} › Hair Care › Shampoo & Conditioner › Shampoos", ("shampoo", "hair wash"),
                ("sulfate free", "paraben free", "dry hair", "damaged hair", "color safe", "natural ingredients", "tea tree", "argan oil", "hair growth"),
                {"size": OUNCES, "scent": SCENTS}, (14.0, 0.5)),
    ProductType("beauty", "conditioner", f"{_BEAUTY} › Hair Care › Shampoo & Conditioner › Conditioners", ("conditioner",),
                ("sulfate free", "dry hair", "curly hair", "keratin", "coconut oil", "leave in", "paraben free", "vegan"),
                {"size": OUNCES}, (13.0, 0.5)),
    ProductType("beauty", "hair extensions", f"{_BEAUTY} › Hair Care › Hair Extensions, Wigs & Accessories › Hair Extensions", ("hair extensions", "clip in extensions"),
                ("natural looking", "human hair", "clip in", "heat resistant", "long lasting", "easy to apply", "straight hair"),
                {"color": HAIR_COLORS, "size": LENGTHS}, (45.0, 0.6)),
    ProductType("beauty", "lipstick", f"{_BEAUTY} › Makeup › Lips › Lipstick", ("lipstick", "lip color"),
                ("long lasting", "matte finish", "moisturizing", "cruelty free", "vegan", "waterproof", "high pigment"),
                {"color": ("ruby red", "nude pink", "berry", "coral", "mauve", "classic red", "plum", "peach")}, (9.0, 0.5)),
    ProductType("beauty", "face moisturizer", f"{_BEAUTY} › Skin Care › Face › Creams & Moisturizers › Face Moisturizers", ("moisturizer", "face cream"),
                ("sensitive skin", "hyaluronic acid", "oil free", "fragrance free", "anti aging", "dry skin", "spf 30", "non comedogenic"),
                {"size": ("1.7 ounce", "2.5 fl oz", "3.4 fl oz", "5 ounce")}, (22.0, 0.6)),
    ProductType("beauty", "nail polish", f"{_BEAUTY} › Foot, Hand & Nail Care › Nail Art & Polish › Nail Polish", ("nail polish", "gel polish"),
                ("long lasting", "quick dry", "non toxic", "chip resistant", "high gloss", "easy to apply"),
                {"color": ("glitter", "red", "nude", "pastel pink", "black", "midnight blue", "coral", "white")}, (8.0, 0.5)),
    ProductType("beauty", "perfume", f"{_BEAUTY} › Fragrance › Women's › Eau de Parfum", ("eau de parfum", "perfume spray"),
                ("long lasting", "floral scent", "travel size", "gift set", "fresh scent", "alcohol free"),
                {"size": ("1 fl oz", "1.7 fl oz", "3.4 fl oz", "6.76 fl oz")}, (48.0, 0.6), ("for women", "for men")),
    ProductType("beauty", "toothbrush", f"{_BEAUTY} › Oral Care › Toothbrushes & Accessories › Electric Toothbrushes", ("electric toothbrush", "toothbrush"),
                ("rechargeable", "sensitive teeth", "long battery life", "travel case", "soft bristles", "waterproof", "timer"),
                {"color": DEVICE_COLORS}, (35.0, 0.6)),
    ProductType("beauty", "makeup brush set", f"{_BEAUTY} › Tools & Accessories › Makeup Brushes & Tools › Brush Sets", ("makeup brushes", "brush set"),
                ("synthetic bristles", "cruelty free", "travel case", "easy to clean", "soft bristles", "gift set"),
                {"color": ("rose gold", "black", "marble", "pink", "silver")}, (15.0, 0.5)),
    ProductType("beauty", "body wash", f"{_BEAUTY} › Personal Care › Bath & Bathing Accessories › Body Washes", ("body wash", "shower gel"),
                ("sensitive skin", "natural ingredients", "moisturizing", "paraben free", "tea tree", "coconut oil"),
                {"scent": SCENTS, "size": ("12 fl oz", "16 fl oz", "22 fl oz (pack of 2)", "33.8 fl oz")}, (10.0, 0.4)),
    # -- electronics ------------------------------------------------------------------------------
    ProductType("electronics", "bluetooth speaker", f"{_ELEC} › Portable Audio & Video › Portable Speakers & Docks › Portable Bluetooth Speakers", ("bluetooth speaker", "portable speaker"),
                ("waterproof", "long battery life", "high fidelity", "bass boost", "wireless bluetooth", "hands free", "easy to carry", "double horn"),
                {"color": DEVICE_COLORS}, (40.0, 0.6)),
    ProductType("electronics", "wireless earbuds", f"{_ELEC} › Headphones, Earbuds & Accessories › Earbud Headphones", ("earbuds", "wireless earphones"),
                ("noise cancelling", "long battery life", "wireless bluetooth", "water resistant", "charging case", "hands free", "stereo sound"),
                {"color": DEVICE_COLORS}, (45.0, 0.7)),
    ProductType("electronics", "phone case", f"{_ELEC} › Computers & Accessories › Cell Phones & Accessories › Cases, Holsters & Sleeves", ("phone case", "protective cover"),
                ("shock absorbing", "wireless charging", "slim fit", "heavy duty", "easy install", "scratch resistant", "kickstand"),
                {"color": DEVICE_COLORS + ("clear", "purple", "green"), "size": ("iphone 13", "iphone 14 pro", "iphone 15", "galaxy s23", "pixel 8")}, (12.0, 0.4)),
    ProductType("electronics", "usb c cable", f"{_ELEC} › Computers & Accessories › Computer Accessories & Peripherals › Cables & Interconnects › USB Cables", ("charging cable", "usb c cable"),
                ("fast charging", "high speed", "braided nylon", "durable", "data transfer", "gold plated"),
                {"size": ("3 feet", "6 feet", "10 feet", "3 feet (pack of 3)", "6 feet (pack of 2)"), "color": ("black", "white", "grey", "red")}, (10.0, 0.4)),
    ProductType("electronics", "hdmi cable", f"{_ELEC} › Television & Video › Accessories › Cables › HDMI Cables", ("hdmi cable", "video cable"),
                ("4k ultra hd", "high speed", "gold plated", "ethernet", "braided", "plug and play"),
                {"size": ("3 feet", "6 feet", "10 feet", "15 feet", "25 feet")}, (11.0, 0.5)),
    ProductType("electronics", "security camera", f"{_ELEC} › Camera & Photo › Video Surveillance › Surveillance Cameras › Dome Cameras", ("security camera", "surveillance camera"),
                ("motion detection", "night vision", "two way audio", "easy install", "weatherproof", "1080p hd", "cloud storage"),
                {"size": ("1 camera", "2 cameras", "4 cameras"), "color": ("white", "black")}, (60.0, 0.6)),
    ProductType("electronics", "memory card", f"{_ELEC} › Computers & Accessories › Data Storage › Memory Cards › Micro SD Cards", ("micro sd card", "memory card"),
                ("high speed", "4k video", "adapter included", "water resistant", "class 10"),
                {"capacity": CAPACITIES[:5]}, (15.0, 0.6)),
    ProductType("electronics", "tv mount", f"{_ELEC} › Television & Video › Accessories › TV Mounts, Stands & Turntables › TV Wall & Ceiling Mounts", ("tv wall mount", "tv bracket"),
                ("full motion", "heavy duty", "easy install", "tilt", "swivel", "space saving"),
                {"size": ("26-55 inch", "32-65 inch", "42-80 inch")}, (32.0, 0.5)),
    ProductType("electronics", "laptop stand", f"{_ELEC} › Computers & Accessories › Laptop Accessories › Lap Desks", ("laptop stand", "notebook riser"),
                ("adjustable height", "aluminum alloy", "foldable", "heat dissipation", "non slip", "portable"),
                {"color": ("silver", "space grey", "black", "rose gold")}, (25.0, 0.4)),
    ProductType("electronics", "power bank", f"{_ELEC} › Portable Power › Power Banks", ("power bank", "portable charger"),
                ("fast charging", "high capacity", "usb c", "led display", "compact", "wireless charging"),
                {"capacity": ("5000mah", "10000mah", "20000mah", "26800mah"), "color": ("black", "white", "blue")}, (28.0, 0.5)),
    ProductType("electronics", "keyboard", f"{_ELEC} › Computers & Accessories › Computer Accessories & Peripherals › Keyboards, Mice & Accessories › Keyboards", ("keyboard", "wireless keyboard"),
                ("backlit", "mechanical", "rechargeable", "quiet keys", "ergonomic", "wireless bluetooth", "plug and play"),
                {"color": ("black", "white", "pink", "grey")}, (39.0, 0.6)),
    # -- fashion ----------------------------------------------------------------------------------
    ProductType("fashion", "men t shirt", f"{_FASHION} › Men › Clothing › Shirts › T-Shirts", ("t-shirt", "crew neck tee"),
                ("machine wash", "cotton spandex", "short sleeve", "relaxed fit", "moisture wicking", "classic fit", "soft material"),
                {"color": COLORS, "size": APPAREL_SIZES}, (18.0, 0.4), ("for men",)),
    ProductType("fashion", "women dress", f"{_FASHION} › Women › Clothing › Dresses › Casual", ("dress", "maxi dress"),
                ("machine wash", "long sleeve", "polyester spandex", "loose fit", "button closure", "high waist", "elastic waist"),
                {"color": COLORS, "size": APPAREL_SIZES}, (32.0, 0.5), ("for women",)),
    ProductType("fashion", "running shoes", f"{_FASHION} › Men › Shoes › Athletic › Running", ("running shoes", "sneakers"),
                ("non slip", "rubber sole", "breathable", "lightweight", "arch support", "lace up", "memory foam"),
                {"color": COLORS[:20], "size": SHOE_SIZES}, (55.0, 0.5), ("for men", "for women")),
    ProductType("fashion", "women sandals", f"{_FASHION} › Women › Shoes › Sandals › Flat", ("sandals", "slides"),
                ("open toe", "ankle strap", "rubber sole", "arch support", "non slip", "memory foam"),
                {"color": COLORS[:18], "size": SHOE_SIZES[:10]}, (30.0, 0.5), ("for women",)),
    ProductType("fashion", "men jeans", f"{_FASHION} › Men › Clothing › Jeans", ("jeans", "denim pants"),
                ("slim fit", "machine wash", "button closure", "stretch denim", "classic fit", "zipper fly"),
                {"color": ("light indigo", "dark indigo", "black", "medium indigo", "grey"), "size": ("30w x 30l", "32w x 30l", "32w x 32l", "34w x 32l", "36w x 32l", "38w x 30l")}, (40.0, 0.4), ("for men",)),
    ProductType("fashion", "hoodie", f"{_FASHION} › Women › Clothing › Fashion Hoodies & Sweatshirts", ("hoodie", "pullover sweatshirt"),
                ("long sleeve", "drawstring closure", "fleece lined", "machine wash", "kangaroo pocket", "soft material"),
                {"color": COLORS, "size": APPAREL_SIZES}, (29.0, 0.4), ("for women", "for men")),
    ProductType("fashion", "leggings", f"{_FASHION} › Women › Clothing › Active › Active Leggings", ("leggings", "yoga pants"),
                ("high waist", "tummy control", "moisture wicking", "butt lifting", "squat proof", "four way stretch"),
                {"color": COLORS[:22], "size": APPAREL_SIZES[:6]}, (22.0, 0.4), ("for women",)),
    ProductType("fashion", "backpack", f"{_FASHION} › Luggage & Travel Gear › Backpacks › Laptop Backpacks", ("backpack", "laptop backpack"),
                ("water resistant", "usb charging port", "large capacity", "anti theft", "lightweight", "padded straps"),
                {"color": ("black", "grey", "navy blue", "dark green", "pink", "camo")}, (36.0, 0.5)),
    ProductType("fashion", "watch", f"{_FASHION} › Men › Watches › Wrist Watches", ("wrist watch", "analog watch"),
                ("stainless steel", "water resistant", "quartz movement", "leather strap", "date display", "gift box"),
                {"color": ("silver", "gold", "black", "rose gold", "blue dial")}, (70.0, 0.7), ("for men", "for women")),
    ProductType("fashion", "socks", f"{_FASHION} › Men › Clothing › Socks › Athletic Socks", ("socks", "crew socks"),
                ("moisture wicking", "cushioned sole", "machine wash", "breathable", "arch support", "cotton blend"),
                {"color": ("white", "black", "grey", "assorted"), "size": ("pack of 6", "pack of 8", "pack of 12")}, (15.0, 0.4), ("for men", "for women")),
    ProductType("fashion", "sunglasses", f"{_FASHION} › Women › Accessories › Sunglasses & Eyewear Accessories › Sunglasses", ("sunglasses", "polarized sunglasses"),
                ("uv protection", "polarized lens", "lightweight", "metal frame", "oversized", "scratch resistant"),
                {"color": ("black", "tortoise", "gold", "silver", "brown gradient", "pink")}, (19.0, 0.6), ("for women", "for men")),
    # -- food ---------------------------------------------------------------------------------------
    ProductType("food", "cake mix", f"{_FOOD} › Pantry Staples › Cooking & Baking › Baking Mixes › Cake Mixes", ("cake mix", "baking mix"),
                ("gluten free", "dairy free", "non gmo", "keto friendly", "low sugar", "vegan", "easy to make"),
                {"flavor": FLAVORS[:12], "size": ("15 ounce", "16 ounce (pack of 2)", "18.25 ounce (pack of 4)")}, (9.0, 0.4)),
    ProductType("food", "protein bar", f"{_FOOD} › Snack Foods › Bars › Protein Bars", ("protein bars", "snack bars"),
                ("high protein", "gluten free", "low sugar", "keto friendly", "non gmo", "plant based", "low carb"),
                {"flavor": FLAVORS, "size": ("pack of 6", "pack of 12", "pack of 24")}, (22.0, 0.4)),
    ProductType("food", "coffee beans", f"{_FOOD} › Beverages › Coffee, Tea & Cocoa › Coffee › Whole Coffee Beans", ("whole bean coffee", "coffee beans"),
                ("medium roast", "dark roast", "fair trade", "usda organic", "single origin", "low acid", "arabica"),
                {"size": ("12 ounce", "2 pound", "5 pound"), "flavor": ("original", "french roast", "hazelnut", "vanilla", "espresso", "colombian")}, (16.0, 0.4)),
    ProductType("food", "green tea", f"{_FOOD} › Beverages › Coffee, Tea & Cocoa › Tea › Green Tea", ("green tea", "tea bags"),
                ("usda organic", "caffeine free", "non gmo", "antioxidant", "individually wrapped", "kosher"),
                {"flavor": ("jasmine", "matcha", "mint", "lemon", "honey ginger", "original"), "size": ("20 count", "40 count", "100 count (pack of 2)")}, (8.0, 0.4)),
    ProductType("food", "beef jerky", f"{_FOOD} › Snack Foods › Jerky & Dried Meats › Beef Jerky", ("beef jerky", "meat snack"),
                ("high protein", "low fat", "gluten free", "shelf stable", "keto friendly", "grass fed", "no preservatives"),
                {"flavor": ("original", "teriyaki", "spicy", "black pepper", "sweet and hot", "barbecue"), "size": ("2.85 ounce", "3.25 ounce (pack of 4)", "10 ounce")}, (14.0, 0.4)),
    ProductType("food", "potato chips", f"{_FOOD} › Snack Foods › Chips & Crisps › Potato Chips", ("potato chips", "kettle chips"),
                ("gluten free", "non gmo", "kosher", "individually wrapped", "low sodium", "vegan"),
                {"flavor": ("sea salt", "barbecue", "sour cream and onion", "salt and vinegar", "jalapeno", "cheddar"), "size": ("1 ounce (pack of 24)", "5 ounce", "8 ounce (pack of 12)")}, (15.0, 0.5)),
    ProductType("food", "olive oil", f"{_FOOD} › Pantry Staples › Cooking & Baking › Oils, Vinegars & Salad Dressings › Oils › Olive", ("extra virgin olive oil", "olive oil"),
                ("cold pressed", "usda organic", "non gmo", "first cold press", "kosher", "gluten free"),
                {"size": ("16.9 fl oz", "25.3 fl oz", "33.8 fl oz", "101 fl oz")}, (18.0, 0.5)),
    ProductType("food", "honey", f"{_FOOD} › Pantry Staples › Jams, Jellies & Sweet Spreads › Honey", ("raw honey", "honey"),
                ("raw unfiltered", "usda organic", "non gmo", "gluten free", "kosher", "pure natural"),
                {"size": ("12 ounce", "16 ounce", "32 ounce", "5 pound")}, (15.0, 0.5)),
    ProductType("food", "pasta", f"{_FOOD} › Pantry Staples › Dried Beans, Grains & Rice › Pasta & Noodles › Pasta", ("pasta", "spaghetti"),
                ("gluten free", "high protein", "non gmo", "whole wheat", "low carb", "vegan"),
                {"size": ("8 ounce (pack of 6)", "12 ounce", "16 ounce (pack of 4)"), "flavor": ("original", "lentil", "chickpea", "spinach")}, (12.0, 0.4)),
    ProductType("food", "candy", f"{_FOOD} › Candy & Chocolate › Chocolate › Chocolate Bars", ("chocolate bar", "candy"),
                ("dark chocolate", "sugar free", "individually wrapped", "gift box", "fair trade", "gluten free", "keto friendly"),
                {"flavor": ("dark chocolate", "milk chocolate", "sea salt caramel", "mint", "almond", "orange"), "size": ("3.5 ounce (pack of 12)", "1.4 ounce (pack of 24)", "gift box of 30")}, (20.0, 0.5)),
    ProductType("food", "seasoning", f"{_FOOD} › Pantry Staples › Herbs, Spices & Seasonings › Mixed Spices & Seasonings", ("seasoning blend", "spice rub"),
                ("salt free", "non gmo", "gluten free", "kosher", "all natural", "no msg"),
                {"flavor": ("garlic herb", "cajun", "lemon pepper", "smoky", "italian", "taco"), "size": ("2.5 ounce", "6 ounce", "pack of 3")}, (8.0, 0.4)),
    # -- furniture / home ---------------------------------------------------------------------------
    ProductType("furniture", "sofa", f"{_HOME} › Furniture › Living Room Furniture › Sofas & Couches", ("sofa", "loveseat", "couch"),
                ("living room", "easy assembly", "solid wood", "high density foam", "mid century", "removable cushions", "space saving"),
                {"color": FURNITURE_COLORS}, (320.0, 0.5)),
    ProductType("furniture", "bed frame", f"{_HOME} › Furniture › Bedroom Furniture › Beds, Frames & Bases › Beds", ("bed frame", "platform bed"),
                ("easy assembly", "metal frame", "no box spring needed", "under bed storage", "heavy duty", "noise free", "headboard"),
                {"size": BED_SIZES, "color": ("black", "white", "grey", "walnut")}, (160.0, 0.5)),
    ProductType("furniture", "office chair", f"{_HOME} › Furniture › Home Office Furniture › Home Office Chairs › Desk Chairs", ("office chair", "desk chair"),
                ("lumbar support", "adjustable height", "ergonomic", "breathable mesh", "easy assembly", "swivel", "high back"),
                {"color": ("black", "grey", "white", "blue", "pink")}, (120.0, 0.5)),
    ProductType("furniture", "bookshelf", f"{_HOME} › Furniture › Home Office Furniture › Bookcases", ("bookshelf", "bookcase"),
                ("easy assembly", "engineered wood", "space saving", "industrial style", "living room", "storage space"),
                {"color": FURNITURE_COLORS, "size": ("3 tier", "4 tier", "5 tier")}, (75.0, 0.5)),
    ProductType("furniture", "coffee table", f"{_HOME} › Furniture › Living Room Furniture › Tables › Coffee Tables", ("coffee table", "center table"),
                ("living room", "easy assembly", "storage space", "solid wood", "tempered glass", "mid century"),
                {"color": FURNITURE_COLORS}, (110.0, 0.5)),
    ProductType("furniture", "dining chair", f"{_HOME} › Furniture › Kitchen & Dining Room Furniture › Chairs", ("dining chairs", "side chair"),
                ("set of 2", "solid wood", "upholstered seat", "easy assembly", "mid century", "dining room"),
                {"color": FURNITURE_COLORS[:8], "size": ("set of 2", "set of 4", "set of 6")}, (140.0, 0.5)),
    ProductType("furniture", "bar stool", f"{_HOME} › Furniture › Kitchen & Dining Room Furniture › Stools › Barstools", ("bar stools", "counter stools"),
                ("adjustable height", "swivel", "back support", "easy assembly", "faux leather", "footrest"),
                {"color": ("black", "white", "grey", "brown", "navy blue"), "size": ("set of 2", "set of 3", "set of 4")}, (130.0, 0.5)),
    ProductType("furniture", "area rug", f"{_HOME} › Home Décor Products › Area Rugs, Runners & Pads › Area Rugs", ("area rug", "runner rug"),
                ("non slip", "machine washable", "living room", "stain resistant", "low pile", "easy clean"),
                {"color": ("grey", "beige", "navy blue", "multicolor", "ivory", "blue"), "size": ("2' x 3'", "4' x 6'", "5' x 7'", "8' x 10'")}, (65.0, 0.6)),
    ProductType("furniture", "curtains", f"{_HOME} › Home Décor Products › Window Treatments › Curtains & Drapes › Panels", ("blackout curtains", "window curtains"),
                ("thermal insulated", "room darkening", "machine washable", "grommet top", "noise reducing", "living room"),
                {"color": COLORS[:16], "size": ("52w x 63l", "52w x 84l", "52w x 95l", "42w x 63l")}, (28.0, 0.4)),
    ProductType("furniture", "bedding set", f"{_HOME} › Bedding › Comforters & Sets › Comforter Sets", ("comforter set", "bedding set"),
                ("machine washable", "soft microfiber", "all season", "hypoallergenic", "fade resistant", "down alternative"),
                {"color": ("white", "grey", "navy blue", "beige", "sage green", "blush pink"), "size": BED_SIZES}, (55.0, 0.5)),
    ProductType("furniture", "storage ottoman", f"{_HOME} › Furniture › Living Room Furniture › Ottomans", ("storage ottoman", "footstool"),
                ("storage space", "faux leather", "easy assembly", "foldable", "living room", "padded seat"),
                {"color": ("black", "grey", "brown", "beige", "navy blue")}, (45.0, 0.5)),
    ProductType("furniture", "wall shelf", f"{_HOME} › Home Décor Products › Home Décor Accents › Shelves", ("floating shelves", "wall shelf"),
                ("wall mounted", "easy install", "solid wood", "rustic style", "set of 3", "heavy duty"),
                {"color": FURNITURE_COLORS[:6]}, (25.0, 0.4)),
)

#: Sentence frames for descriptions and bullet points; ``{a}`` is an attribute, ``{n}`` the noun.
DESCRIPTION_FRAMES = (
    "This {n} is designed with {a} in mind, so it works for everyday use.",
    "Made for people who care about {a}, our {n} is tested for quality and comfort.",
    "Enjoy {a} with a {n} that is built to last.",
    "Our {n} combines {a} with a clean, modern design.",
    "Every {n} is inspected before it ships, and we stand behind its {a}.",
    "A great gift idea: this {n} offers {a} at a fair price.",
)
BULLET_FRAMES = (
    "{A}: the {n} is made with {a} for reliable results.",
    "{A} - a feature our customers ask for most.",
    "Designed for {a}, easy to use from the first day.",
    "{A} and thoughtful details in every {n}.",
    "Satisfaction guaranteed: if the {n} is not right for you, contact us.",
)
REVIEW_TITLES = ("Great product", "Works as described", "Love it", "Not bad", "Good value", "Disappointed", "Would buy again", "Five stars", "Okay for the price", "Exactly what I needed")
REVIEW_BODIES = (
    "The {n} arrived quickly and works just as described.",
    "I bought this {n} for my family and everyone likes it.",
    "Quality is decent for the price, but shipping took a while.",
    "Exactly what I was looking for. The {a} really shows.",
    "It stopped working after a few weeks, which was disappointing.",
    "Second time ordering this {n}; still happy with it.",
)
